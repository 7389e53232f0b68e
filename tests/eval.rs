//! `aigcq eval` (issue 26) against a fake server whose answer depends on the model: one gives
//! the book's own answer, the other a wrong one; the fake judge scores by agreement with the
//! reference it is shown. The first model scores higher; content/ stays byte-identical; no
//! pending draft is added; no drafting prompt holds a held-out answer.

mod common;

use common::Reply;
use serde_json::Value;

const ANSWERS: [&str; 3] = [
    "扩散模型先逐步加噪，再训练网络逐步去噪，从纯噪声生成清晰的图像，训练稳定、样本多样。",
    "变分自编码器把输入编码为潜空间中的分布，再从中采样解码重建，训练目标是重建误差加 KL 散度。",
    "生成对抗网络让生成器与判别器博弈，生成器造样本，判别器辨真伪，交替训练直到难以分辨。",
];

fn chapter() -> String {
    let questions = ["什么是扩散模型？", "什么是 VAE？", "什么是 GAN？"];
    let mut s = String::from("# 生成模型\n");
    for (i, (q, a)) in questions.iter().zip(ANSWERS).enumerate() {
        s.push_str(&format!("\n## {}、{q}\n\n{a}\n", i + 1));
    }
    s
}

/// The fake: drafting requests answered by model (`good` writes the book's answers), the
/// judge scoring by agreement with the reference it is shown, and pairwise requests won by
/// the book's answer, with a bias for the first.
fn fake_server(_: usize, body: &Value) -> Reply {
    let system = body["messages"][0]["content"].as_str().unwrap_or_default();
    let user = body["messages"][1]["content"].as_str().unwrap_or_default().to_owned();
    if user.contains("<answer name=\"A\">") {
        // Pairwise, with a bias for the first answer: A unless B alone is the book's.
        let part = |name: &str| {
            let open = format!("<answer name=\"{name}\">");
            user.split(open.as_str())
                .nth(1)
                .and_then(|s| s.split("</answer>").next())
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let book = |t: &str| ANSWERS.contains(&t);
        let winner = if book(&part("B")) && !book(&part("A")) {
            "B"
        } else {
            "A"
        };
        return Reply::Whole {
            content: format!(r#"{{"winner": "{winner}", "reasons": "比较"}}"#),
            finish: "stop",
        };
    }
    if system.contains("审稿人") {
        // The judge: 9 when the candidate is the reference it was shown, else 3.
        let candidate = user
            .split("<answer>")
            .nth(1)
            .and_then(|s| s.split("</answer>").next())
            .unwrap_or("")
            .trim();
        let reference = user
            .split("<reference")
            .nth(1)
            .and_then(|s| s.split("</reference>").next())
            .unwrap_or("");
        let score = if !candidate.is_empty() && reference.contains(candidate) {
            9
        } else {
            3
        };
        return Reply::Whole {
            content: format!(r#"{{"score": {score}, "reasons": "与参考答案比较"}}"#),
            finish: "stop",
        };
    }
    let i = (1..=3)
        .find(|i| user.contains(&format!("第 {i} 题")))
        .expect("a question");
    match body["model"].as_str() {
        Some("good") => Reply::stream(ANSWERS[i - 1]),
        _ => Reply::stream("这是一个与题目无关、写得足够长的错误答案，讲的是别的事情。"),
    }
}

#[test]
fn the_model_that_writes_the_books_answers_scores_higher_and_nothing_is_written() {
    let fake = common::start_in_thread(fake_server);
    let text = chapter();
    let dir = common::project(&text, "[prices.good]\ninput = 1.0\noutput = 2.0\ncurrency = \"USD\"\n");
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["eval", "--sample", "3", "--model", "good", "--model", "bad", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mean = |m: &str| {
        rows.iter().find(|r| r["model"] == m).unwrap()["mean_score"]
            .as_f64()
            .unwrap()
    };
    assert_eq!((mean("good"), mean("bad")), (9.0, 3.0));
    assert!(
        rows.iter()
            .all(|r| r["questions"] == 3 && r["judged"] == 3 && r["template"] == "default")
    );
    // Tokens, and the cost where [prices] has the model.
    let row = |m: &str| rows.iter().find(|r| r["model"] == m).unwrap().clone();
    let good = row("good");
    let want = (good["prompt_tokens"].as_f64().unwrap() + 2.0 * good["completion_tokens"].as_f64().unwrap()) / 1e6;
    assert!(good["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        (good["cost"].as_f64(), good["currency"].as_str()),
        (Some(want), Some("USD"))
    );
    assert!(row("bad")["cost"].is_null());

    assert_eq!(std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap(), text);
    assert!(
        aigcq::store::Store::new(dir.path().join("drafts"))
            .pending()
            .0
            .is_empty()
    );
    let bodies = fake.seen.bodies.lock().unwrap().clone();
    let drafting: Vec<String> = bodies
        .iter()
        .filter(|b| {
            !b["messages"][0]["content"]
                .as_str()
                .unwrap_or_default()
                .contains("审稿人")
        })
        .map(|b| b["messages"].to_string())
        .collect();
    assert_eq!(drafting.len(), 6);
    for prompt in &drafting {
        let asked = (1..=3).find(|i| prompt.contains(&format!("第 {i} 题"))).unwrap();
        assert!(
            !prompt.contains(ANSWERS[asked - 1]),
            "question {asked}'s own answer is in its prompt"
        );
    }
    // The report and the results are kept.
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("drafts/.eval"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1);
    let report = std::fs::read_to_string(runs[0].path().join("report.md")).unwrap();
    assert!(report.contains("| good | default | 3 | 3 | 9.0 |"), "{report}");
    assert!(runs[0].path().join("results.json").is_file());

    // A resumed run holds out the same questions and asks nothing it has: no request at all.
    let asked = fake.seen.requests.load(std::sync::atomic::Ordering::SeqCst);
    let run = runs[0].file_name().into_string().unwrap();
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["eval", "--resume", &run, "--model", "good", "--model", "bad", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let means: Vec<f64> = again.iter().map(|r| r["mean_score"].as_f64().unwrap()).collect();
    assert_eq!(means, [9.0, 3.0]);
    assert_eq!(fake.seen.requests.load(std::sync::atomic::Ordering::SeqCst), asked);
    // A run name that leaves drafts/.eval is refused.
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["eval", "--resume", "../../content"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("leaves drafts/.eval"));
}

/// `--pairwise` asks both orders, so the fake judge's bias for the first answer cancels out:
/// the book's own answers tie with the book, the wrong ones lose.
#[test]
fn pairwise_in_both_orders_cancels_a_bias_for_the_first_answer() {
    let fake = common::start_in_thread(fake_server);
    let dir = common::project(&chapter(), "");
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args([
            "eval",
            "--sample",
            "2",
            "--pairwise",
            "--model",
            "good",
            "--model",
            "bad",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let duels = |m: &str| rows.iter().find(|r| r["model"] == m).unwrap()["pairwise"].clone();
    assert_eq!(duels("good"), serde_json::json!([0, 2, 0]));
    assert_eq!(duels("bad"), serde_json::json!([0, 0, 2]));
}

#[test]
fn through_the_batch_api_submitted_then_resumed_until_graded() {
    let (chat, _) = common::chat_routes(fake_server);
    // The Batch API drafts as the good model does; the judge answers on the same server.
    let fake = common::batch::start_beside(
        |body| {
            let user = body["messages"][1]["content"].as_str().unwrap_or_default();
            let i = (1..=3)
                .find(|i| user.contains(&format!("第 {i} 题")))
                .expect("a question");
            Ok((
                ANSWERS[i - 1].to_owned(),
                serde_json::json!({"prompt_tokens": 100, "completion_tokens": 20}),
            ))
        },
        false,
        chat,
    );
    let text = chapter();
    let dir = common::project(&text, "[prices.good]\ninput = 1.0\noutput = 2.0\ncurrency = \"USD\"\n");
    // Three questions of one chapter: three rounds, no chapter twice in a batch.
    let first = common::aigcq_at(dir.path(), &fake.url)
        .args(["eval", "--sample", "3", "--model", "good", "--batch", "--json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(first.status.success(), "{err}");
    assert!(first.stdout.is_empty(), "no table before the drafts are in");
    let run = err
        .split("aigcq eval --resume ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("{err}"))
        .to_owned();
    assert_eq!(fake.api.lock().unwrap().created.len(), 3, "{err}");
    let mut rows: Vec<Value> = Vec::new();
    for _ in 0..8 {
        let out = common::aigcq_at(dir.path(), &fake.url)
            .args(["eval", "--resume", &run, "--model", "good", "--batch", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        if !out.stdout.is_empty() {
            rows = serde_json::from_slice(&out.stdout).unwrap();
            break;
        }
    }
    assert_eq!(rows.len(), 1, "graded once every batch was collected");
    assert_eq!(
        (rows[0]["mean_score"].as_f64(), rows[0]["questions"].as_u64()),
        (Some(9.0), Some(3))
    );
    // The drafts' own usage, at the batch price (half, by default).
    assert_eq!(rows[0]["prompt_tokens"], 300);
    assert_eq!(rows[0]["cost"].as_f64(), Some((300.0 + 2.0 * 60.0) / 1e6 * 0.5));
    assert_eq!(fake.api.lock().unwrap().created.len(), 3, "nothing submitted twice");
    assert_eq!(std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap(), text);
    assert!(
        aigcq::store::Store::new(dir.path().join("drafts"))
            .pending()
            .0
            .is_empty()
    );
}
