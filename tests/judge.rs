//! `aigcq judge` against the fake server (issue 12): a valid verdict is saved, invalid output
//! is asked for once more and then an error with no score, `response_format` goes out as
//! configured, `review --accept-all --min-score` and `--list --sort score` use the scores, and
//! `draft --judge` judges each draft as it is saved.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;

use common::Reply;
use serde_json::Value;

const ANSWER: &str = "扩散模型先逐步加噪，再学习逐步去噪，从噪声生成清晰的图像，训练稳定。";

fn is_judge(body: &Value) -> bool {
    body["messages"][0]["content"]
        .as_str()
        .is_some_and(|s| s.contains("审稿人"))
}

/// The question a request is about.
fn question(body: &Value) -> usize {
    let user = body["messages"][1]["content"].as_str().unwrap_or_default();
    (2..10)
        .find(|i| user.contains(&format!("请回答第 {i} 题")) || user.contains(&format!("（第 {i} 题）")))
        .expect("a known question")
}

/// A project with drafts for questions 2, 3 and 4, made through the fake.
fn drafted(
    toml: &str,
    verdicts: impl Fn(usize, usize) -> String + Send + Sync + 'static,
) -> (tempfile::TempDir, common::Fake) {
    let fake = common::start_in_thread(move |n, body| {
        if is_judge(body) {
            Reply::Whole {
                content: verdicts(question(body), n),
                finish: "stop",
            }
        } else {
            Reply::stream(ANSWER)
        }
    });
    let dir = common::project(&common::chapter_with_gaps(3), toml);
    let out = common::aigcq_at(dir.path(), &fake.url).arg("draft").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (dir, fake)
}

fn scores(dir: &Path) -> Vec<(usize, Option<u8>, Option<String>)> {
    let (pending, _) = aigcq::store::Store::new(dir.join("drafts")).pending();
    pending
        .into_iter()
        .map(|d| (d.meta.index, d.meta.score, d.meta.reasons))
        .collect()
}

fn judge_bodies(fake: &common::Fake) -> Vec<Value> {
    fake.seen
        .bodies
        .lock()
        .unwrap()
        .iter()
        .filter(|b| is_judge(b))
        .cloned()
        .collect()
}

#[test]
fn valid_verdicts_are_saved_with_the_schema_and_the_queue_sorts_and_filters_by_them() {
    let (dir, fake) = drafted("", |q, _| {
        format!(r#"{{"score": {}, "reasons": "第 {q} 题：要点齐全"}}"#, 10 - q)
    });
    let d = dir.path();
    let out = common::aigcq_at(d, &fake.url).arg("judge").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("8/10") && stderr.contains("judged 3 drafts"),
        "{stderr}"
    );
    assert_eq!(
        scores(d),
        [
            (2, Some(8), Some("第 2 题：要点齐全".into())),
            (3, Some(7), Some("第 3 题：要点齐全".into())),
            (4, Some(6), Some("第 4 题：要点齐全".into())),
        ]
    );
    let bodies = judge_bodies(&fake);
    assert_eq!(bodies.len(), 3);
    let format = &bodies[0]["response_format"];
    assert_eq!(format["type"], "json_schema", "{format}");
    assert_eq!(format["json_schema"]["schema"]["required"][0], "score");
    assert_eq!(bodies[0]["temperature"], 0.0);
    // The judge sees the question and the draft's answer.
    let user = bodies[0]["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains(ANSWER), "{user}");

    // Judged already: nothing to do without --force.
    let again = common::aigcq_at(d, &fake.url).arg("judge").output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(judge_bodies(&fake).len(), 3);

    let list = common::aigcq_at(d, &fake.url)
        .args(["review", "--list", "--json", "--sort", "score"])
        .output()
        .unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap();
    let order: Vec<u64> = rows.iter().map(|r| r["score"].as_u64().unwrap()).collect();
    assert_eq!(order, [8, 7, 6]);

    let out = common::aigcq_at(d, &fake.url)
        .args(["review", "--accept-all", "--min-score", "7"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("left ch.md#4 pending: scored 6, below 7"), "{stderr}");
    assert_eq!(scores(d), [(4, Some(6), Some("第 4 题：要点齐全".into()))]);
}

#[test]
fn invalid_output_is_asked_for_once_more_then_an_error_and_no_score() {
    // Question 2's judge answers prose twice; question 3's first reply is out of range,
    // the second valid.
    let (dir, fake) = drafted("[judge]\nresponse_format = \"none\"\n", |q, _| match q {
        2 => "我觉得这个答案不错，给八分。".into(),
        _ => r#"{"score": 9, "reasons": "好"}"#.into(),
    });
    let d = dir.path();
    let out = common::aigcq_at(d, &fake.url)
        .args(["judge", "ch.md#2", "ch.md#3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no valid verdict twice") && stderr.contains("no JSON object"),
        "{stderr}"
    );
    let bodies = judge_bodies(&fake);
    assert_eq!(bodies.iter().filter(|b| question(b) == 2).count(), 2, "asked twice");
    assert!(
        bodies.iter().all(|b| b.get("response_format").is_none()),
        "none configured"
    );
    assert_eq!(
        scores(d).into_iter().map(|(i, s, _)| (i, s)).collect::<Vec<_>>(),
        [(2, None), (3, Some(9)), (4, None)]
    );
}

#[test]
fn draft_with_judge_scores_each_draft_as_it_is_saved() {
    let fake = common::start_in_thread(|_, body| {
        if is_judge(body) {
            Reply::Whole {
                content: r#"{"score": 7, "reasons": "可以采纳"}"#.into(),
                finish: "stop",
            }
        } else {
            Reply::stream(ANSWER)
        }
    });
    let dir = common::project(
        &common::chapter_with_gaps(2),
        "[judge]\nresponse_format = \"json_object\"\n",
    );
    // Without a [judge] model or base_url, the judge is the drafting endpoint and model, here
    // given as flags only.
    let out = common::aigcq_at(dir.path(), "http://127.0.0.1:9/v1")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("AIGCQ_MODEL")
        .args(["draft", "--judge", "--base-url", &fake.url, "--model", "m"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        scores(dir.path()),
        [
            (2, Some(7), Some("可以采纳".into())),
            (3, Some(7), Some("可以采纳".into()))
        ]
    );
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 4);
    assert!(
        judge_bodies(&fake)
            .iter()
            .all(|b| b["response_format"]["type"] == "json_object")
    );
}
