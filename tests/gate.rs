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

    let out = run(&["review", "--accept-all"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("7 questions left pending"), "{stderr}");
    let (left, _) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    assert_eq!(left.len(), 7);
    assert!(left.iter().all(|d| d.meta.index != 4), "the good one was accepted");
}

/// Issue 26: what the demo showed. The book's own template (this repository's
/// `prompts/default.jinja`) and one reply per new finding: the prompt's scaffolding leaked into
/// the answer, a reference copied word for word, an answer about another question's subject.
/// A good answer that quotes a short fact of its reference gets nothing.
#[test]
fn leaks_reference_copies_and_answers_on_another_subject_are_flagged() {
    let notes = "（项目自写的参考笔记）DiT（Diffusion Transformer）用 Transformer 取代 U-Net 作为扩散模型的去噪网络：把潜空间切成 patch 作为 token，用 adaLN-Zero 注入时间步与类别条件。论文发现模型的 Gflops 越高，生成质量越好，扩展性明显优于 U-Net。";
    let glm = "GLM-Image 采用自回归与扩散结合的架构，先由语言模型生成语义 token，再由扩散解码器生成图像。";
    let seedream =
        "Seedream 4.0 是字节跳动的图像生成与编辑统一模型，支持多图参考与高分辨率输出，推理速度较上一代明显提升。";
    let replies: Vec<(usize, &str, String)> = vec![
        (4, "leak", "FLUX.1 Kontext 是 Black Forest Labs 的图像编辑模型，能按文字指令修改图像并保持主体一致。\n\n……（示例截断）</示例>\n\n以下是这道题的参考资料，请据此回答。".to_owned()),
        (5, "copied", format!("DiT 的核心思想如下。\n\n{notes}")),
        (6, "topic", format!("{glm}\n\nGLM-Image 的优势在于语义理解强，GLM-Image 也能生成包含文字的图像，适合海报设计等场景。")),
        (7, "", "LoRA 冻结预训练权重，只在每层旁路训练两个低秩矩阵 A、B，二者乘积作为权重的增量；训练参数少、显存占用低，推理时可把增量合并回原权重，不增加延迟。按参考资料所说，DiT 用 Transformer 取代 U-Net。".to_owned()),
    ];
    let text = format!(
        "# 图像生成模型\n\n## 1、什么是 Seedream 4.0？\n\n{seedream}\n\n## 2、GLM-Image 的架构是什么？\n\n{glm}\n\n## 3、Stable Diffusion 的原理是什么？\n\nStable Diffusion 在 VAE 的潜空间里做扩散，用 CLIP 文本编码器提供条件，大幅降低了计算量。\n\n## 4、FLUX.1 Kontext 是什么？\n\n## 5、DiT 的核心思想是什么？\n\n## 6、Qwen-Image 有什么创新？\n\n## 7、LoRA 的原理是什么？\n\n"
    );
    let dir = common::project(&text, "[provider]\nconcurrency = 2\n");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.path().join("prompts")).unwrap();
    std::fs::copy(
        root.join("prompts/default.jinja"),
        dir.path().join("prompts/default.jinja"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("refs/ch")).unwrap();
    for i in [5, 7] {
        std::fs::write(dir.path().join(format!("refs/ch/{i}-notes.md")), notes).unwrap();
    }
    let answers = replies.clone();
    let fake = common::start_in_thread(move |_, body| {
        let user = body["messages"][1]["content"].as_str().unwrap_or_default();
        let (_, _, reply) = answers
            .iter()
            .find(|(i, _, _)| user.contains(&format!("请回答第 {i} 题")))
            .expect("a known question");
        Reply::stream(reply)
    });
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--base-url", &fake.url, "--model", "m"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (pending, _) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    for (i, code, _) in &replies {
        let d = pending.iter().find(|d| d.meta.index == *i).unwrap();
        let codes: Vec<&str> = d.meta.warnings.iter().map(|w| w.code.as_str()).collect();
        let want: Vec<&str> = [*code].into_iter().filter(|c| !c.is_empty()).collect();
        assert_eq!(codes, want, "question {i}: {:?}", d.meta.warnings);
    }
    let message = |i: usize| {
        pending.iter().find(|d| d.meta.index == i).unwrap().meta.warnings[0]
            .message
            .clone()
    };
    assert!(message(4).contains("</示例>"), "{}", message(4));
    assert!(message(5).contains("refs/ch/5-notes.md"), "{}", message(5));
    assert!(
        message(6).contains("“glm-image” (question 2) 3 times") && message(6).contains("qwen-image"),
        "{}",
        message(6)
    );
}

/// Issue 26: no false alarm of the new findings on real answers: every answered question of the
/// bundled chapter and of the shared corpus (when it is there), run through the gate as a
/// rewrite of itself with the book's template.
#[test]
fn the_books_own_answers_raise_no_leak_topic_or_copy() {
    use aigcq::chapter::{Chapter, GapKind, Rules};
    use aigcq::prompt::{self, RunContext, Templates};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let book = Templates::load(&root.join("prompts"), "default").unwrap();
    let built_in = Templates::load(std::path::Path::new("/nonexistent"), "default").unwrap();
    let rules = Rules::default();
    let run = RunContext {
        style: None,
        today: "2026-12-05".into(),
        example_chars: 4000,
        prompt_cache_key: false,
        glossary: None,
        related: None,
        related_chars: 0,
    };
    let markdown = |dir: &str| -> Vec<std::path::PathBuf> {
        walkdir::WalkDir::new(root.join(dir))
            .into_iter()
            .flatten()
            .map(|e| e.into_path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect()
    };
    // The book with its own template; the other banks with the built-in one.
    let mut files: Vec<(&Templates, std::path::PathBuf)> = Vec::new();
    for dir in ["content", "../shared/corpus"] {
        files.extend(markdown(dir).into_iter().map(|p| (&book, p)));
    }
    for dir in ["../shared/corpus-other", "../shared/corpus-more"] {
        files.extend(markdown(dir).into_iter().map(|p| (&built_in, p)));
    }
    let (mut answers, mut alarms) = (0, Vec::new());
    for (templates, path) in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let chapter = Chapter::parse(&text, &rules);
        let facts = prompt::ChapterFacts::new(&chapter, "ch.md");
        for q in chapter.questions.iter().filter(|q| q.gap.is_none() && !q.group) {
            let gap = chapter.as_gap(q, GapKind::Stub);
            let ctx = prompt::context(&facts, &gap, &rules, &run, true, &[]);
            let messages = templates.render(&ctx).unwrap();
            let answer = chapter.answer_body(q);
            let meta_ref = aigcq::identity::QuestionRef {
                anchor: gap.anchor,
                text: gap.text,
                kind: gap.kind,
                level: gap.level,
                span_hash: "",
                rewrite: true,
            };
            let subject = aigcq::draft::gate::Subject {
                facts: &facts,
                question: meta_ref,
                index: q.index,
                messages: &messages,
                references: &[],
                existing: Some(answer.trim()),
                rules: &rules,
                exists: &|_: &str| true,
                frame: &templates.frame,
                reference_copy: 100,
                glossary: None,
            };
            answers += 1;
            for w in aigcq::draft::gate::check(&answer, &subject) {
                if ["leak", "topic", "copied"].contains(&w.code.as_str()) {
                    alarms.push(format!("{}#{}: {w}", path.display(), q.index));
                }
            }
        }
    }
    assert!(answers > 1000, "{answers} answers checked");
    assert!(
        alarms.is_empty(),
        "{} false alarms in {answers} answers:\n{}",
        alarms.len(),
        alarms.join("\n")
    );
}
