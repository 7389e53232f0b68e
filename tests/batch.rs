//! Issue 13's batch mode against the in-process Batch API fake: submit, status, collect,
//! cancel, and the drafts they make compared with a normal run's.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Reply;
use serde_json::{Value, json};

/// The answer the fakes give a request: its question's text, so that every draft differs.
fn answer(body: &Value) -> (String, Value) {
    let user = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .unwrap()["content"]
        .as_str()
        .unwrap();
    let q = user.lines().find(|l| l.starts_with("请回答")).unwrap_or("请回答");
    (
        format!("**结论**：这是对「{q}」的回答，包含足够多的文字。\n\n1. 第一点。\n2. 第二点。"),
        json!({"prompt_tokens": 1000, "completion_tokens": 200, "prompt_tokens_details": {"cached_tokens": 0}}),
    )
}

fn batch_fake(expire: bool) -> common::batch::BatchFake {
    common::batch::start(|body| Ok(answer(body)), expire)
}

fn aigcq(dir: &Path, url: &str, args: &[&str]) -> (bool, String, String) {
    let out = common::aigcq_at(dir, url).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under the drafts folder and its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir.join("drafts"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The drafts, by file name, with the fields a batch changes set aside.
fn drafts(dir: &Path) -> BTreeMap<String, (Value, String, Value)> {
    let store = aigcq::store::Store::new(dir.join("drafts"));
    let (drafts, errors) = store.pending();
    assert!(errors.is_empty(), "{errors:?}");
    drafts
        .into_iter()
        .map(|d| {
            let mut meta = serde_json::to_value(&d.meta).unwrap();
            for k in ["created", "batch", "host"] {
                meta.as_object_mut().unwrap().remove(k);
            }
            let prompt: Value =
                serde_json::from_slice(&std::fs::read(aigcq::store::prompt_path(&d.path)).unwrap()).unwrap();
            let name = d.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, (meta, d.body, prompt["messages"].clone()))
        })
        .collect()
}

/// A project of `chapter` drafted by a normal run against the same answers as the fakes.
fn normal_run(chapter: &str) -> tempfile::TempDir {
    let live = common::start_in_thread(|_, body| {
        let (content, usage) = answer(body);
        Reply::with_usage(&content, usage)
    });
    let normal = common::project(chapter, "");
    let (ok, _, err) = aigcq(normal.path(), &live.url, &["draft"]);
    assert!(ok, "{err}");
    normal
}

/// Submit → status → collect makes the drafts a normal run makes against the same replies;
/// collecting again changes nothing.
#[test]
fn a_batch_makes_the_drafts_a_normal_run_makes() {
    let chapter = common::chapter_with_gaps(5);
    let normal = normal_run(&chapter);

    let fake = batch_fake(false);
    let dir = common::project(&chapter, "");
    let (ok, _, err) = aigcq(dir.path(), &fake.url, &["draft", "--batch"]);
    assert!(
        ok && err.contains("submitted batch batch_1 (5 requests, validating)"),
        "{err}"
    );
    {
        let api = fake.api.lock().unwrap();
        let input = String::from_utf8(api.files["file-in-1"].clone()).unwrap();
        let lines: Vec<Value> = input.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 5);
        let ids: std::collections::HashSet<&str> = lines.iter().map(|l| l["custom_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 5);
        assert!(ids.iter().all(|i| i.len() <= 64));
        assert!(
            lines
                .iter()
                .all(|l| l["url"] == "/v1/chat/completions" && l["method"] == "POST" && l["body"]["stream"] == false)
        );
        assert_eq!(api.batches["batch_1"]["metadata"]["created_by"], "aigcq");
    }
    // Asked again, the same questions are not sent twice while the batch is open.
    let (ok, _, err) = aigcq(dir.path(), &fake.url, &["draft", "--batch"]);
    assert!(ok && err.contains("5 skipped: already in a batch"), "{err}");
    assert_eq!(fake.api.lock().unwrap().created.len(), 1);

    let mut states = Vec::new();
    for _ in 0..3 {
        let (ok, out, err) = aigcq(dir.path(), &fake.url, &["batch", "status", "--json"]);
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        states.push(v[0]["batch"]["remote"]["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(states, ["in_progress", "finalizing", "completed"]);
    let (ok, _, err) = aigcq(dir.path(), &fake.url, &["batch", "collect"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("batch batch_1: drafted 5 (5 candidates), 0 failed · tokens 5000 prompt + 1000 completion"),
        "{err}"
    );

    let (a, b) = (drafts(normal.path()), drafts(dir.path()));
    assert_eq!(a.len(), 5);
    assert_eq!(a, b);
    let store = aigcq::store::Store::new(dir.path().join("drafts"));
    assert!(
        store
            .pending()
            .0
            .iter()
            .all(|d| d.meta.batch.as_deref() == Some("batch_1"))
    );

    let before = tree(dir.path());
    let (ok, _, err) = aigcq(dir.path(), &fake.url, &["batch", "collect"]);
    assert!(ok && err.contains("nothing to collect"), "{err}");
    let (ok, _, err) = aigcq(dir.path(), &fake.url, &["batch", "collect", "batch_1"]);
    assert!(ok, "{err}");
    assert_eq!(tree(dir.path()), before, "collecting again changed files");
    let (ok, out, _) = aigcq(dir.path(), &fake.url, &["batch", "list"]);
    assert!(
        ok && out.contains("batch_1") && out.contains("completed") && out.contains("5/5 collected"),
        "{out}"
    );
}

/// Per-line errors are reported per question; an expired batch's answered half is saved and
/// the rest reported; a chapter edited since submission gives a stale draft; the key never
/// reaches a file even when the service echoes it.
#[test]
fn failures_expiry_and_edits_are_reported_per_question() {
    let key = "sk-batch-secret-123456";
    let fake = common::batch::start(
        move |body| {
            let (content, usage) = answer(body);
            if content.contains("问题3") {
                Err((400, format!("bad request from key {key}")))
            } else {
                Ok((content, usage))
            }
        },
        false,
    );
    let chapter = common::chapter_with_gaps(4);
    let dir = common::project(&chapter, "");
    let run = |args: &[&str]| {
        let out = common::aigcq_at(dir.path(), &fake.url)
            .env("OPENAI_API_KEY", key)
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&["draft", "--batch"]);
    assert_eq!(code, Some(0), "{err}");
    // The author edits question 2 while the batch runs.
    let edited = chapter.replace(
        "## 2、问题2是什么？\n\n",
        "## 2、问题2是什么？\n\n作者自己写了一半。\n\n",
    );
    std::fs::write(dir.path().join("content/ch.md"), &edited).unwrap();
    let (code, err) = run(&["batch", "collect"]);
    assert_eq!(code, Some(0), "not finished is not a failure: {err}");
    assert!(err.contains("batch batch_1 is in_progress"), "{err}");
    run(&["batch", "status"]);
    let (code, err) = run(&["batch", "collect"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("ch.md#3") && err.contains("HTTP 400: bad request from key [redacted]"),
        "{err}"
    );
    assert!(!err.contains(key));
    assert!(err.contains("drafted 3 (3 candidates), 1 failed"), "{err}");
    let files = tree(dir.path());
    assert!(files.values().all(|b| !String::from_utf8_lossy(b).contains(key)));
    let (ok, out, err) = aigcq(dir.path(), &fake.url, &["review", "--list", "--json"]);
    assert!(ok, "{err}");
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    let stale: Vec<u64> = list
        .iter()
        .filter(|d| d["stale"] == true)
        .map(|d| d["index"].as_u64().unwrap())
        .collect();
    assert_eq!(stale, [2], "{out}");

    let fake = batch_fake(true);
    let dir = common::project(&common::chapter_with_gaps(6), "");
    assert!(aigcq(dir.path(), &fake.url, &["draft", "--batch"]).0);
    for _ in 0..3 {
        aigcq(dir.path(), &fake.url, &["batch", "status"]);
    }
    let (ok, _, err) = aigcq(dir.path(), &fake.url, &["batch", "collect"]);
    assert!(!ok, "{err}");
    assert_eq!(err.matches("not answered: the batch ended expired").count(), 3, "{err}");
    assert_eq!(aigcq::store::Store::new(dir.path().join("drafts")).pending().0.len(), 3);
}

/// A run larger than the provider's per-file limit is split into several batches, each
/// collected into the drafts of its own questions; cancel stops one, and what it answered
/// before is still collected.
#[test]
fn large_runs_are_split_and_cancelled_batches_keep_their_answers() {
    let fake = batch_fake(false);
    let dir = common::project(&common::chapter_with_gaps(10), "[batch]\nmax_lines = 4\n");
    let (ok, _, err) = aigcq(dir.path(), &fake.url, &["draft", "--batch"]);
    assert!(ok, "{err}");
    assert_eq!(err.matches("submitted batch").count(), 3, "{err}");
    let (ok, _, err) = aigcq(dir.path(), &fake.url, &["batch", "cancel", "batch_3"]);
    assert!(ok && err.contains("batch batch_3 is cancelling"), "{err}");
    for _ in 0..3 {
        aigcq(dir.path(), &fake.url, &["batch", "status"]);
    }
    let (_, _, err) = aigcq(dir.path(), &fake.url, &["batch", "collect"]);
    // batch_3 holds questions 10 and 11: the cancel came first, so half of it is answered.
    assert!(err.contains("batch batch_3: drafted 1"), "{err}");
    let indices: Vec<usize> = aigcq::store::Store::new(dir.path().join("drafts"))
        .pending()
        .0
        .iter()
        .map(|d| d.meta.index)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(indices, (2..=10).collect::<Vec<_>>());
}

/// Killed in the middle of collecting (SIGKILL: no clean-up runs), a rerun finishes the job:
/// every question has exactly one draft and no file is partial.
#[test]
fn a_collect_killed_midway_loses_nothing_on_the_rerun() {
    let fake = batch_fake(false);
    // Several groups of drafts made durable together (200 each), so the kill lands between.
    let n = 1000;
    let dir = common::project(&common::chapter_with_gaps(n), "");
    assert!(aigcq(dir.path(), &fake.url, &["draft", "--batch"]).0);
    for _ in 0..3 {
        aigcq(dir.path(), &fake.url, &["batch", "status"]);
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aigcq"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("OPENAI_BASE_URL", &fake.url)
        .env("AIGCQ_MODEL", "fake-model")
        .env_remove("OPENAI_API_KEY")
        .args(["batch", "collect"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ledger = dir.path().join("drafts/.batches/batch_1.collected");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&ledger).map_or(0, |t| t.lines().count()) < 5 && start.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let halfway = std::fs::read_to_string(&ledger).unwrap().lines().count();
    assert!(halfway < n, "the collect finished before it was killed");
    let (ok, _, err) = aigcq(dir.path(), &fake.url, &["batch", "collect"]);
    assert!(ok, "{err}");
    let drafts = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    assert!(drafts.1.is_empty(), "{:?}", drafts.1);
    let mut indices: Vec<usize> = drafts.0.iter().map(|d| d.meta.index).collect();
    indices.sort_unstable();
    assert_eq!(
        indices,
        (2..n + 2).collect::<Vec<_>>(),
        "killed after {halfway} collected"
    );
    assert_eq!(
        fake.api.lock().unwrap().downloads,
        1,
        "the output file is downloaded once"
    );
}

/// What vLLM's `python -m vllm.entrypoints.openai.run_batch -i IN -o OUT` does with the file
/// aigcq exports, played by a small script: one output line per input line, in its format,
/// each answer made by the same rule as the fakes' ([`answer`]).
const RUNNER: &str = r#"
import json, sys
with open(sys.argv[1]) as i, open(sys.argv[2], "w") as o:
    for n, line in enumerate(i):
        req = json.loads(line)
        assert req["method"] == "POST" and req["url"] == "/v1/chat/completions", req
        user = [m for m in req["body"]["messages"] if m["role"] == "user"][-1]["content"]
        q = next((l for l in user.splitlines() if l.startswith("请回答")), "请回答")
        content = "**结论**：这是对「%s」的回答，包含足够多的文字。\n\n1. 第一点。\n2. 第二点。" % q
        body = {"id": "cmpl-%d" % n, "object": "chat.completion", "model": req["body"]["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}}
        o.write(json.dumps({"id": "vllm-%d" % n, "custom_id": req["custom_id"],
                            "response": {"status_code": 200, "request_id": "r-%d" % n, "body": body},
                            "error": None}, ensure_ascii=False) + "\n")
"#;

/// `draft --batch --export` sends nothing and records the batch; the runner's output, brought
/// back with `batch import`, makes the drafts a normal run makes; importing twice is refused.
#[test]
fn an_exported_batch_run_elsewhere_makes_the_drafts_a_normal_run_makes() {
    let chapter = common::chapter_with_gaps(5);
    let normal = normal_run(&chapter);

    // Nothing listens on the discard port: a request would fail the run.
    let nowhere = "http://127.0.0.1:9/v1";
    let dir = common::project(&chapter, "");
    let input = dir.path().join("in.jsonl");
    let (ok, _, err) = aigcq(dir.path(), nowhere, &["draft", "--batch", "--export", "in.jsonl"]);
    assert!(ok && err.contains("exported 5 requests to in.jsonl"), "{err}");
    assert!(err.contains("aigcq batch import out.jsonl"), "{err}");
    let (ok, out, err) = aigcq(dir.path(), nowhere, &["batch", "list", "--json"]);
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["batch"]["remote"]["status"], "exported");
    let (ok, _, err) = aigcq(dir.path(), nowhere, &["batch", "collect"]);
    assert!(ok && err.contains("was exported to"), "{err}");
    let (ok, _, err) = aigcq(dir.path(), nowhere, &["draft", "--batch", "--export", "again.jsonl"]);
    assert!(ok && err.contains("5 skipped: already in a batch"), "{err}");

    let output = dir.path().join("out.jsonl");
    let ran = std::process::Command::new("python3")
        .args(["-c", RUNNER])
        .arg(&input)
        .arg(&output)
        .status()
        .unwrap();
    assert!(ran.success());
    let (ok, _, err) = aigcq(dir.path(), nowhere, &["batch", "import", "out.jsonl"]);
    assert!(ok && err.contains("drafted 5 (5 candidates), 0 failed"), "{err}");
    assert_eq!(drafts(dir.path()), drafts(normal.path()));

    let before = tree(dir.path());
    let (ok, _, err) = aigcq(dir.path(), nowhere, &["batch", "import", "out.jsonl"]);
    assert!(!ok && err.contains("has its output already"), "{err}");
    let (ok, _, err) = aigcq(dir.path(), nowhere, &["batch", "collect"]);
    assert!(ok && err.contains("nothing to collect"), "{err}");
    assert_eq!(tree(dir.path()), before, "nothing changes");
}
