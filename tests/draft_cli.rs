//! `aigcq draft` and `aigcq config` run as a user runs them, against the fake server on a
//! thread of its own: Ctrl-C, key redaction, plain-http refusal, dry runs, re-runs.

mod common;

use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::Reply;

const KEY: &str = "sk-test-SECRET-0123456789";

/// Every file under `drafts/` but the prompts kept beside the drafts.
fn drafts_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = common::files(&dir.join("drafts"));
    // Drafts only: not their prompts, not the chapters' lock files under `.locks/`.
    files.retain(|(name, _)| !name.ends_with(".prompt.json") && !name.starts_with('.'));
    files
}

#[test]
fn ctrl_c_keeps_finished_drafts_and_leaves_no_partial_file() {
    // The first two requests answer; the rest stream one piece and then hang.
    let fake = common::start_in_thread(|n, _| {
        if n < 2 {
            Reply::stream("完成的答案。")
        } else {
            Reply::Hang
        }
    });
    let dir = common::project(&common::chapter_with_gaps(6), "[provider]\nconcurrency = 2\n");
    let child = StdCommand::new(assert_cmd::cargo::cargo_bin("aigcq"))
        .current_dir(dir.path())
        .args(["draft", "--base-url", &fake.url, "--model", "m"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !(drafts_in(dir.path()).len() == 2 && fake.seen.requests.load(Ordering::SeqCst) >= 4) {
        assert!(start.elapsed() < Duration::from_secs(30), "drafts never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let files = drafts_in(dir.path());
    assert_eq!(
        files.len(),
        2,
        "no temporary or partial file: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, bytes) in files {
        let (_, body) = aigcq::store::parse(std::str::from_utf8(&bytes).unwrap()).unwrap();
        assert_eq!(body, "完成的答案。\n", "{name}");
    }
}

#[test]
fn the_key_is_sent_only_in_the_header_and_appears_nowhere_else() {
    let fake = common::start_in_thread(|n, _| {
        if n == 0 {
            Reply::stream("答案。")
        } else {
            Reply::status(401, "Incorrect API key provided")
        }
    });
    let dir = common::project(&common::chapter_with_gaps(2), "[provider]\nconcurrency = 1\n");
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "-vv"])
        .env("OPENAI_API_KEY", KEY)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(2), "one question failed: {stderr}");
    assert!(
        stderr.contains("Bearer [redacted]"),
        "the -vv log shows the header, redacted: {stderr}"
    );
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("was rejected"),
        "{stderr}"
    );
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY) && !stderr.contains("0123456789"));
    assert!(
        fake.seen
            .auth
            .lock()
            .unwrap()
            .iter()
            .all(|a| a.as_deref() == Some(&format!("Bearer {KEY}")))
    );
    for (name, bytes) in common::files(dir.path()) {
        assert!(!String::from_utf8_lossy(&bytes).contains(KEY), "{name} holds the key");
    }
    let config = common::aigcq_at(dir.path(), &fake.url)
        .args(["config", "--json"])
        .env("OPENAI_API_KEY", KEY)
        .output()
        .unwrap();
    let text = String::from_utf8(config.stdout).unwrap();
    assert!(!text.contains(KEY));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["api_key_present"], true);
}

#[test]
fn a_key_is_not_sent_over_plain_http_to_another_host() {
    let dir = common::project(&common::chapter_with_gaps(1), "");
    let out = common::aigcq_at(dir.path(), "http://192.0.2.1:9/v1")
        .arg("draft")
        .env("OPENAI_API_KEY", KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--allow-insecure") && stderr.contains("192.0.2.1"),
        "{stderr}"
    );
    assert!(drafts_in(dir.path()).is_empty());
}

#[test]
fn config_shows_each_value_and_its_source() {
    let dir = common::project(
        "",
        "[provider]\nbase_url = \"https://file.example/v1\"\nconcurrency = 6\napi_key_env = \"MY_KEY\"\n",
    );
    let out = common::aigcq_at(dir.path(), "https://env.example/v1")
        .args(["config", "--temperature", "0.5"])
        .env("MY_KEY", KEY)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("base_url").contains("https://env.example/v1") && line("base_url").contains("$OPENAI_BASE_URL"),
        "{text}"
    );
    assert!(
        line("model").contains("fake-model") && line("model").contains("$AIGCQ_MODEL"),
        "{text}"
    );
    assert!(
        line("concurrency").contains('6') && line("concurrency").contains("aigcq.toml"),
        "{text}"
    );
    assert!(
        line("temperature").contains("0.5") && line("temperature").contains("--temperature"),
        "{text}"
    );
    assert!(line("api key").contains("present ($MY_KEY)"), "{text}");
    assert!(line("max_retries").contains("default"), "{text}");
    assert!(!text.contains(KEY));
}

#[test]
fn dry_run_sends_nothing_and_counts_requests() {
    let fake = common::start_in_thread(|_, _| Reply::stream("x"));
    let dir = common::project(&common::chapter_with_gaps(3), "");
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--dry-run", "-n", "2", "--kind", "empty"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(stdout.matches("[user]").count(), 3, "{stdout}");
    assert!(stdout.contains("请回答第 2 题：2、问题2是什么？"), "{stdout}");
    assert!(
        stderr.contains("3 questions × 2 candidates, 3 requests (or 6 if the server ignores n)"),
        "{stderr}"
    );
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 0);
    let json = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--dry-run", "--json", "ch.md#3"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["id"], "ch.md#3问题3是什么");
}

#[test]
fn re_runs_skip_pending_questions_unless_forced() {
    let fake = common::start_in_thread(|n, _| Reply::stream(&format!("第 {n} 次的答案。")));
    let dir = common::project(&common::chapter_with_gaps(2), "");
    common::aigcq_at(dir.path(), &fake.url).arg("draft").assert().success();
    assert_eq!(drafts_in(dir.path()).len(), 2);
    let again = common::aigcq_at(dir.path(), &fake.url).arg("draft").output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to draft; 2 skipped with a pending draft"));
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 2);
    common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--force", "2"])
        .assert()
        .success();
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 3);
    assert_eq!(drafts_in(dir.path()).len(), 3, "a new candidate beside the pending one");
}

/// Issue 26: two models that give the very same answer are two candidates, each naming its
/// model; a draft's file name does not depend on the text alone.
#[test]
fn the_same_text_from_two_models_is_two_candidates() {
    let fake = common::start_in_thread(|_, _| Reply::stream("两个模型给出了一字不差的答案，写得足够长。"));
    let dir = common::project(&common::chapter_with_gaps(1), "");
    for args in [&["draft", "--model", "a"][..], &["draft", "--model", "b", "--force"]] {
        common::aigcq_at(dir.path(), &fake.url).args(args).assert().success();
    }
    let (pending, _) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    let mut models: Vec<&str> = pending.iter().map(|d| d.meta.model.as_str()).collect();
    models.sort();
    assert_eq!(models, ["a", "b"]);

    // b's candidate is accepted over a's: `stats` shows the head-to-head result.
    let b = pending.iter().find(|d| d.meta.model == "b").unwrap();
    common::aigcq_at(dir.path(), &fake.url)
        .args(["review", "--accept", &b.id])
        .assert()
        .success();
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["stats", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let models = v["models"].as_array().unwrap();
    let row = |name: &str| models.iter().find(|m| m["name"] == name).unwrap().clone();
    assert_eq!(
        (row("b")["accepted"].clone(), row("b")["wins"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(
        (row("a")["rejected"].clone(), row("a")["losses"].clone()),
        (1.into(), 1.into())
    );
    let table = common::aigcq_at(dir.path(), &fake.url).arg("stats").output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("MODEL") && table.contains("won 1 · lost 0") && table.contains("100 %"),
        "{table}"
    );
}

/// Issue 26: `draft --model A --model B` drafts every question with each model: both
/// candidates saved, each naming its model, each asked of its own model.
#[test]
fn two_models_draft_every_question_side_by_side() {
    let fake = common::start_in_thread(|_, body| {
        let model = body["model"].as_str().unwrap_or_default().to_owned();
        Reply::stream(&format!("{model} 写的答案，写得足够长、可以算作真正的回答。"))
    });
    let dir = common::project(&common::chapter_with_gaps(2), "");
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--model", "alpha", "--model", "beta"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (pending, _) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    let mut got: Vec<(usize, String, bool)> = pending
        .iter()
        .map(|d| (d.meta.index, d.meta.model.clone(), d.body.starts_with(&d.meta.model)))
        .collect();
    got.sort();
    let want: Vec<(usize, String, bool)> = [(2, "alpha"), (2, "beta"), (3, "alpha"), (3, "beta")]
        .into_iter()
        .map(|(i, m)| (i, m.to_owned(), true))
        .collect();
    assert_eq!(got, want);
    // One model where one is used.
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["judge", "--model", "alpha", "--model", "beta"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only draft takes several"));
}

/// Issue 26: `[[draft.models]]` in aigcq.toml: each model with its own endpoint and key
/// variable, drafting every question side by side without flags.
#[test]
fn models_of_the_configuration_each_with_its_own_endpoint_and_key() {
    let answer = |_: usize, body: &serde_json::Value| {
        Reply::stream(&format!(
            "{} 写的答案，写得足够长、可以算作真正的回答。",
            body["model"].as_str().unwrap()
        ))
    };
    let (one, two) = (common::start_in_thread(answer), common::start_in_thread(answer));
    let toml = format!(
        "[[draft.models]]\nmodel = \"alpha\"\n\n[[draft.models]]\nmodel = \"beta\"\nbase_url = \"{}\"\napi_key_env = \"BETA_KEY\"\n",
        two.url
    );
    let dir = common::project(&common::chapter_with_gaps(1), &toml);
    let out = common::aigcq_at(dir.path(), &one.url)
        .env("OPENAI_API_KEY", "sk-alpha-key")
        .env("BETA_KEY", "sk-beta-key")
        .arg("draft")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (pending, _) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    let mut models: Vec<&str> = pending.iter().map(|d| d.meta.model.as_str()).collect();
    models.sort();
    assert_eq!(models, ["alpha", "beta"]);
    let sent = |f: &common::Fake| {
        let bodies = f.seen.bodies.lock().unwrap().clone();
        let auth = f.seen.auth.lock().unwrap().clone();
        (
            bodies
                .iter()
                .map(|b| b["model"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>(),
            auth,
        )
    };
    assert_eq!(
        sent(&one),
        (vec!["alpha".to_owned()], vec![Some("Bearer sk-alpha-key".to_owned())])
    );
    assert_eq!(
        sent(&two),
        (vec!["beta".to_owned()], vec![Some("Bearer sk-beta-key".to_owned())])
    );
}

#[test]
fn unknown_queries_and_missing_models_are_usage_errors() {
    let dir = common::project(&common::chapter_with_gaps(1), "");
    let out = common::aigcq_at(dir.path(), "http://127.0.0.1:9/v1")
        .args(["draft", "no-such-question"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing matches \"no-such-question\""));
    let out = common::aigcq_at(dir.path(), "http://127.0.0.1:9/v1")
        .env_remove("AIGCQ_MODEL")
        .arg("draft")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model set"));
}

#[test]
fn feedback_on_a_pending_draft_continues_its_conversation() {
    let fake =
        common::start_in_thread(|n, _| Reply::stream(&format!("第 {n} 版答案：写得足够长、可以算作真正回答的内容。")));
    let dir = common::project(&common::chapter_with_gaps(1), "");
    common::aigcq_at(dir.path(), &fake.url).arg("draft").assert().success();
    let first = aigcq::store::Store::new(dir.path().join("drafts"))
        .pending()
        .0
        .remove(0);
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", &first.id, "--feedback", "更简洁一些"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bodies = fake.seen.bodies.lock().unwrap().clone();
    let sent = bodies[1]["messages"].as_array().unwrap();
    assert_eq!(sent.len(), 4);
    assert_eq!(sent[..2], bodies[0]["messages"].as_array().unwrap()[..]);
    assert_eq!(
        (sent[2]["role"].as_str(), sent[3]["content"].as_str()),
        (Some("assistant"), Some("更简洁一些"))
    );
    let pending = aigcq::store::Store::new(dir.path().join("drafts")).pending().0;
    assert_eq!(pending.len(), 2);
    let revised = &pending[1];
    assert_eq!(
        (revised.meta.candidate, revised.meta.parent.as_deref()),
        (2, Some(first.id.as_str()))
    );
    assert!(revised.body.starts_with("第 1 版答案"));
    // A feedback without ids is a usage error.
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--feedback", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_answered_question_is_rewritten_only_on_request_and_undo_restores_it() {
    let fake = common::start_in_thread(|_, _| Reply::stream("改进后的新答案：写得足够长、可以算作真正回答的内容。"));
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("question 1 of ch.md is already answered; use --rewrite"),
        "{stderr}"
    );
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 0);

    common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "1", "--rewrite"])
        .assert()
        .success();
    let bodies = fake.seen.bodies.lock().unwrap().clone();
    let user = bodies[0]["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("已有答案") && user.contains("扩散模型通过逐步去噪"),
        "the current answer is in the prompt"
    );
    let d = aigcq::store::Store::new(dir.path().join("drafts"))
        .pending()
        .0
        .remove(0);
    assert!(d.meta.rewrite);
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["review", "--accept-all"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merged = std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap();
    assert!(merged.contains("改进后的新答案") && !merged.contains("扩散模型通过逐步去噪"));
    common::aigcq_at(dir.path(), &fake.url)
        .args(["review", "--undo"])
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap(), text);
}

/// Issue 13: with `concurrency` as the maximum, a server that admits 2 requests at once and
/// answers 429 beyond is learnt from its first rejections; the rest of the run keeps to it,
/// with a 429 only now and then (a fixed window of 8 had most of each wave refused), and
/// `-v` logs each change of the window.
#[test]
fn a_rate_limit_is_learnt_and_kept_to() {
    // Busy until its answer is sent, as a server counts it: counted past its answer, every
    // send right after a completion would be refused, and only a client cutting to 1 (half
    // this server's limit) would keep to the bound below.
    let (fake, limited) = common::limited(
        2,
        Duration::from_millis(50),
        Reply::Thinking(
            Duration::from_millis(50),
            Box::new(Reply::stream("限流之下也写完的答案，足够长的一段。")),
        ),
    );
    let dir = common::project(&common::chapter_with_gaps(24), "");
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["-v", "draft", "--concurrency", "8"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        aigcq::store::Store::new(dir.path().join("drafts")).pending().0.len(),
        24
    );
    let (limited, requests) = (
        limited.load(Ordering::SeqCst),
        fake.seen.requests.load(Ordering::SeqCst),
    );
    assert!(limited <= 8, "{limited} of {requests} answered 429:\n{stderr}");
    assert!(stderr.contains("concurrency") && stderr.contains("to=2"), "{stderr}");
}

/// Issue 13: the bundled chapter's prompts share more than 1,024 tokens (its TOC and fixed
/// style examples), so its first request goes alone and the rest follow once its answer
/// starts; `cache_warmup = 0` sends them together. `prompt_cache_key` names the chapter the
/// same way in each, and the summary gives the share of prompt tokens the server cached.
#[test]
fn a_chapters_first_request_warms_the_cache_for_the_rest() {
    use std::sync::{Arc, Mutex};
    let chapter = std::fs::read_to_string(
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("content"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "md"))
            .unwrap(),
    )
    .unwrap();
    for (warmup, alone) in [(1024, true), (0, false)] {
        let arrived: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let a = arrived.clone();
        let fake = common::start_in_thread(move |_, _| {
            a.lock().unwrap().push(Instant::now());
            let usage = serde_json::json!({"prompt_tokens": 2000, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 1500}});
            Reply::Thinking(
                Duration::from_millis(300),
                Box::new(Reply::with_usage("缓存预热之后的答案，足够长的一段文字。", usage)),
            )
        });
        let toml = format!("[draft]\nprompt_cache_key = true\ncache_warmup = {warmup}\n");
        let dir = common::project(&chapter, &toml);
        let out = common::aigcq_at(dir.path(), &fake.url)
            .args(["draft", "--concurrency", "4"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let arrived = arrived.lock().unwrap();
        assert_eq!(arrived.len(), 4, "{stderr}");
        let later = arrived[1..].iter().map(|t| t.duration_since(arrived[0])).min().unwrap();
        assert_eq!(later >= Duration::from_millis(300), alone, "{later:?} after the first");
        let bodies = fake.seen.bodies.lock().unwrap();
        let keys: std::collections::HashSet<&str> =
            bodies.iter().map(|b| b["prompt_cache_key"].as_str().unwrap()).collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(stderr.contains("cache hit 75 % of prompt tokens"), "{stderr}");
    }
}

/// Issue 13: `--dry-run` estimates tokens and prints the cost for the run, the cached and the
/// batch cases from `[prices]`; a real run prints the actual cost of the usage the server
/// reported, cached tokens at the cached price.
#[test]
fn the_cost_is_estimated_before_and_reported_after() {
    let fake = common::start_in_thread(|_, _| {
        Reply::with_usage(
            "按价格表计算费用的答案，足够长的一段。",
            serde_json::json!({"prompt_tokens": 1000, "completion_tokens": 500, "prompt_tokens_details": {"cached_tokens": 400}}),
        )
    });
    let toml = "[prices.fake-model]\ninput = 2.0\ncached_input = 0.5\noutput = 8.0\ncurrency = \"USD\"\neffective = \"2026-12-01\"\n\n\
                [prices.only-output]\ninput = 0.0\noutput = 1000000.0\ncurrency = \"X\"\nbatch = 0.25\n";
    let dir = common::project(&common::chapter_with_gaps(2), toml);

    // The only answer sets the answer range: its estimated tokens, for each of 2 questions,
    // at 1 X a token (0.25 X as a batch).
    let answer = "扩散模型通过逐步去噪从噪声中生成数据，是当前图像生成的主流方法。";
    let t = aigcq::llm::tokens::estimate(answer) as f64;
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--dry-run", "--model", "only-output"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("estimated at 0.6 per Chinese character"), "{stderr}");
    let (run, batch) = (format!("{:.2}", 2.0 * t), format!("{:.2}", 0.5 * t));
    assert!(
        stderr.contains(&format!("cost at only-output's prices: {run}–{run} X · with the prompt cache {run}–{run} X · as a batch (draft --batch) {batch}–{batch} X")),
        "{stderr}"
    );
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 0);
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--dry-run", "--model", "gpt-4o-mini"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("counted with OpenAI's tokenizer") && stderr.contains("no price for gpt-4o-mini"),
        "{stderr}"
    );

    // 2 × (600 × 2 + 400 × 0.5 + 500 × 8) / 1e6 = 0.0108 USD.
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("tokens 2000 prompt + 1000 completion, cache hit 40 % of prompt tokens · cost 0.011 USD"),
        "{stderr}"
    );
}

/// Issue 27: a closed port fails fast, saying what to check, instead of retrying for 20 s with
/// "Connection refused" alone.
#[test]
fn a_closed_port_fails_fast_with_a_hint() {
    // Bound and dropped at once: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let dir = common::project(&common::chapter_with_gaps(2), "");
    for args in [&["draft"][..], &["draft", "--batch"][..]] {
        let started = Instant::now();
        let out = common::aigcq_at(dir.path(), &url).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{args:?} took {:?}",
            started.elapsed()
        );
        assert!(
            stderr.contains(&format!("cannot connect to {url}"))
                && stderr.contains("is the server running? check base_url"),
            "{args:?}: {stderr}"
        );
    }
}

/// A server that takes 2 requests at once and answers 429 beyond: the window the first run
/// ends with is kept under the drafts folder's cache, so the second run starts there and
/// meets fewer 429s.
#[test]
fn the_concurrency_a_server_allows_is_remembered_between_runs() {
    let (fake, refused) = common::limited(
        2,
        Duration::from_millis(100),
        Reply::After(
            Duration::from_millis(100),
            Box::new(Reply::stream("足够长的一个回答，讲清楚了要点。")),
        ),
    );
    let dir = common::project(
        &common::chapter_with_gaps(16),
        "[provider]\nconcurrency = 8\nmax_retries = 20\n",
    );
    let mut refusals = Vec::new();
    for run in 0..2 {
        let _ = std::fs::remove_dir_all(dir.path().join("drafts/ch"));
        let before = refused.load(Ordering::SeqCst);
        let out = common::aigcq_at(dir.path(), &fake.url)
            .args(["draft"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.contains("drafted 16 questions"),
            "run {run}: {stderr}"
        );
        refusals.push(refused.load(Ordering::SeqCst) - before);
        let kept: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("drafts/.cache/concurrency.json")).unwrap()).unwrap();
        let (key, learnt) = kept.as_object().unwrap().iter().next().unwrap();
        assert!(key.ends_with(" fake-model"), "{key}");
        assert!(
            (2..=3).contains(&learnt["window"].as_u64().unwrap()),
            "run {run}: {kept}"
        );
    }
    assert!(
        refusals[1] < refusals[0],
        "the second run starts at the limit: {refusals:?}"
    );
}

/// An answer cut at a token limit says what to raise: `--max-tokens` when the run set it, and
/// also when it did not, since the server then stopped at a limit of its own.
#[test]
fn answers_cut_at_a_limit_say_to_raise_max_tokens() {
    let fake = common::start_in_thread(|_, _| Reply::Stream {
        content: "一个被截断的回答，写到一半".into(),
        finish: "length",
        n: 1,
    });
    for (args, said) in [
        (
            &[][..],
            "cut at the server's own token limit (the request set none); set --max-tokens",
        ),
        (
            &["--max-tokens", "64"][..],
            "cut at max_tokens = 64; raise --max-tokens",
        ),
    ] {
        let dir = common::project(&common::chapter_with_gaps(2), "");
        let out = common::aigcq_at(dir.path(), &fake.url)
            .arg("draft")
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("note: 2 answers were {said}")), "{stderr}");
    }
}
