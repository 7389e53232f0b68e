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

/// Issue 26: a judge that can be trusted. It is told of a cut answer and of the gate's
/// findings, and its score is capped by them whatever it says; the verdict names the rubric;
/// a revision starts unjudged instead of inheriting its parent's 9.
#[test]
fn findings_cap_the_score_the_rubric_is_recorded_and_revisions_are_judged_anew() {
    let (dir, fake) = drafted("", |_, _| r#"{"score": 9, "reasons": "很好"}"#.to_owned());
    let d = dir.path();
    let store = aigcq::store::Store::new(d.join("drafts"));
    let chapter = d.join("content/ch.md");
    for draft in store.pending().0 {
        store
            .update(&chapter, &draft.path, |meta, _| match meta.index {
                2 => meta.truncated = true,
                3 => {
                    meta.warnings = vec![aigcq::store::Warning {
                        code: "leak".into(),
                        message: "the prompt's tag </示例> is in the answer".into(),
                    }]
                }
                _ => {}
            })
            .unwrap();
    }
    let out = common::aigcq_at(d, &fake.url).arg("judge").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pending = store.pending().0;
    let got: Vec<(usize, Option<u8>)> = pending.iter().map(|d| (d.meta.index, d.meta.score)).collect();
    assert_eq!(got, [(2, Some(5)), (3, Some(4)), (4, Some(9))]);
    let reasons = |i: usize| pending[i - 2].meta.reasons.clone().unwrap();
    assert!(reasons(2).contains("capped at 5: cut at max_tokens"), "{}", reasons(2));
    assert!(reasons(3).contains("capped at 4: leak"), "{}", reasons(3));
    assert_eq!(reasons(4), "很好");
    let rubric = pending[2].meta.judge_template.clone().unwrap();
    assert!(rubric.starts_with("judge "), "{rubric}");
    // The judge was told.
    let bodies = judge_bodies(&fake);
    let told = |i: usize| {
        bodies
            .iter()
            .map(|b| b["messages"][1]["content"].as_str().unwrap().to_owned())
            .find(|u| u.contains(&format!("（第 {i} 题）")))
            .unwrap()
    };
    assert!(told(2).contains("max_tokens"), "{}", told(2));
    assert!(told(3).contains("leak") && told(3).contains("</示例>"), "{}", told(3));

    // A revision of the 9 is a new answer: unjudged.
    let id = pending[2].id.clone();
    let out = common::aigcq_at(d, &fake.url)
        .args(["draft", &id, "--feedback", "更简洁一些"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let revision = store
        .pending()
        .0
        .into_iter()
        .find(|d| d.meta.parent.as_deref() == Some(&id))
        .unwrap();
    assert_eq!(
        (revision.meta.score, revision.meta.reasons, revision.meta.judge),
        (None, None, None)
    );
}

/// Issue 26: `judge --calibrate` on a crafted ledger: accepts scored high, rejects (a sibling
/// that lost included) scored low, an undone accept and an unjudged draft.
#[test]
fn calibrate_reports_how_scores_agree_with_the_authors_decisions() {
    let dir = common::project(&common::chapter_with_gaps(1), "");
    let line = |draft: &str, decision: &str, score: Option<u8>, extra: &str| {
        let score = score.map_or_else(String::new, |s| format!(r#","score":{s}"#));
        format!(
            r#"{{"time":"2026-12-05T00:00:00Z","chapter":"ch.md","question_id":"ch.md#q","draft":"{draft}","decision":"{decision}","model":"m","template_hash":"t","answer_hash":"a"{score}{extra}}}"#
        )
    };
    let lines = [
        line("ch/1", "accepted", Some(9), ""),
        line("ch/1b", "rejected", Some(6), r#","sibling":true,"sibling_of":"ch/1""#),
        line("ch/2", "accepted", Some(8), ""),
        line("ch/3", "rejected", Some(4), ""),
        line("ch/4", "rejected", Some(8), ""),
        line("ch/5", "accepted", None, ""),
        // Taken back: no longer a decision.
        line("ch/6", "accepted", Some(2), ""),
        line("ch/6", "undone", Some(2), ""),
    ];
    std::fs::write(dir.path().join("drafts/ledger.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = common::aigcq_at(dir.path(), "http://127.0.0.1:9")
        .args(["judge", "--calibrate", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["accepted"]["count"], 2);
    assert_eq!(c["accepted"]["mean"], 8.5);
    assert_eq!(c["rejected"]["count"], 3);
    assert_eq!(c["rejected"]["mean"], 6.0);
    assert_eq!(c["unscored"], 1);
    // Pairs: 9 beats 6, 4, 8; 8 beats 6 and 4 and ties 8: 5.5 of 6.
    assert_eq!(c["auc"].as_f64().unwrap(), 5.5 / 6.0);
    let human = common::aigcq_at(dir.path(), "http://127.0.0.1:9")
        .args(["judge", "--calibrate"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("separation (AUC) 0.92") && text.contains("worth using"),
        "{text}"
    );
}
