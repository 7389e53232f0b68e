//! The quality gate (issue 12): one reply per warning code, drafted through the CLI against
//! the fake server, each flagged with exactly its code; a good answer gets none; `review
//! --accept-all --clean` takes only the clean one.

mod common;

use std::collections::BTreeMap;

use aigcq::chapter::slug;
use common::Reply;

const ANSWER_1: &str = "扩散模型先在前向过程中逐步向数据加入高斯噪声，直到数据变成纯噪声；再训练一个神经网络学习反向去噪过程，每一步预测并去除一部分噪声。生成时从随机噪声出发，反复调用去噪网络，最终得到清晰的样本。它训练稳定、样本多样性好，是当前图像生成的主流方法。";
const ANSWER_2: &str = "变分自编码器由编码器和解码器组成：编码器把输入映射为潜在空间中的一个分布，解码器从这个分布中采样并重建输入。训练目标是重建误差加上潜在分布与标准正态分布之间的 KL 散度。它能学到连续、可插值的潜在空间，常被用作潜在扩散模型的图像压缩器。";
const ANSWER_3: &str = "生成对抗网络让生成器和判别器相互博弈：生成器从噪声生成样本，判别器区分真实样本和生成样本，二者交替训练直到判别器无法分辨。它生成的图像清晰锐利，但训练不稳定，容易出现模式崩塌，需要谱归一化、梯度惩罚等技巧来稳定训练过程。";

/// The replies, by the question they answer, and the code each must get.
fn cases() -> Vec<(&'static str, String)> {
    let good = "注意力机制让模型在处理每个位置时，根据查询与键的相似度为所有位置分配权重，再对值做加权求和。这样模型可以直接建模任意距离的依赖关系，不再受循环网络逐步传递信息的限制。多头注意力把表示拆成多个子空间分别计算，再拼接起来，能同时关注不同类型的关系，是 Transformer 的核心组件。".to_owned();
    vec![
        ("", good.clone()),
        ("language", "Attention lets a model weigh every position of the input when it computes each output, using the similarity of queries and keys; the values are then averaged with those weights. This models long-range dependencies directly, and multi-head attention does it in several subspaces at once.".to_owned()),
        ("length", "注意力是一种加权求和。".to_owned()),
        ("repetition", "注意力机制为每个位置分配权重。\n\n".repeat(6)),
        ("copied", format!("简单地说：{}", ANSWER_1.chars().take(70).collect::<String>())),
        ("question", format!("**2、什么是 VAE？**\n\n{good}")),
        ("lint", format!("{good}\n\n| 方法 | 特点 |\n| --- | --- |\n| 注意力 |\n")),
        ("links", format!("{good}\n\n详见 https://made-up.example.com/attention-paper 。")),
    ]
}

fn chapter(n: usize) -> String {
    let mut questions: Vec<String> = vec![
        "1、什么是扩散模型？".into(),
        "2、什么是 VAE？".into(),
        "3、什么是 GAN？".into(),
    ];
    for i in 4..4 + n {
        questions.push(format!("{i}、注意力机制的第{i}种问法是什么？"));
    }
    let mut s = String::from("# 生成模型\n\n## 目录\n\n");
    for q in &questions {
        s.push_str(&format!("- [{q}](#{})\n", slug(q)));
    }
    for (i, q) in questions.iter().enumerate() {
        let answer = [ANSWER_1, ANSWER_2, ANSWER_3].get(i).copied().unwrap_or("");
        s.push_str(&format!("\n## {q}\n\n{answer}\n"));
    }
    s
}

#[test]
fn each_reply_gets_exactly_its_warning_and_clean_accepts_only_the_good_one() {
    let cases = cases();
    let replies: Vec<String> = cases.iter().map(|(_, r)| r.clone()).collect();
    let fake = common::start_in_thread(move |_, body| {
        let user = body["messages"][1]["content"].as_str().unwrap_or_default();
        let i = (4..4 + replies.len())
            .find(|i| user.contains(&format!("请回答第 {i} 题")))
            .expect("a known question");
        Reply::stream(&replies[i - 4])
    });
    let dir = common::project(&chapter(cases.len()), "[provider]\nconcurrency = 2\n");
    let run = |args: &[&str]| common::aigcq_at(dir.path(), &fake.url).args(args).output().unwrap();
    let out = run(&["draft", "--base-url", &fake.url, "--model", "m"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (pending, _) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    let got: BTreeMap<usize, Vec<String>> = pending
        .iter()
        .map(|d| (d.meta.index, d.meta.warnings.iter().map(|w| w.code.clone()).collect()))
        .collect();
    for (i, (code, _)) in cases.iter().enumerate() {
        let want: Vec<String> = if code.is_empty() {
            vec![]
        } else {
            vec![code.to_string()]
        };
        let w = &pending.iter().find(|d| d.meta.index == i + 4).unwrap().meta.warnings;
        assert_eq!(got[&(i + 4)], want, "question {}: {w:?}", i + 4);
    }

    // The list shows the codes; JSON carries the messages.
    let list = String::from_utf8(run(&["review", "--list"]).stdout).unwrap();
    assert!(
        list.contains("warn: language") && list.contains("warn: links"),
        "{list}"
    );
    let json: serde_json::Value = serde_json::from_slice(&run(&["review", "--list", "--json"]).stdout).unwrap();
    let row = json.as_array().unwrap().iter().find(|r| r["index"] == 9).unwrap();
    assert_eq!(row["warnings"][0]["code"], "question");
    assert!(
        row["warnings"][0]["message"].as_str().unwrap().contains("question 2"),
        "{row}"
    );

    let out = run(&["review", "--accept-all", "--clean"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("7 drafts stay pending"), "{stderr}");
    let (left, _) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    assert_eq!(left.len(), 7);
    assert!(left.iter().all(|d| d.meta.index != 4), "the good one was accepted");
}
