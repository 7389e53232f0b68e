//! Nothing lost, nothing leaked: each bug of issue 9 reproduced as a user meets it, through
//! the binary. Concurrent reviews, forced accepts and undo, hostile replies, control
//! characters, symlinked chapters, leftovers and the API key.

mod common;

use std::path::Path;
use std::process::{Command as Process, Stdio};

use aigcq::store::Store;
use assert_cmd::Command;
use common::{Reply, ledger, meta_for, metas_for};

fn aigcq(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("aigcq").unwrap();
    cmd.current_dir(dir).env("NO_COLOR", "1").env_remove("OPENAI_API_KEY");
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn answer(i: usize) -> String {
    format!("**第 {i} 题**：这是一个写得足够长、可以算作真正回答的答案正文。\n")
}

fn gaps(dir: &Path) -> Vec<serde_json::Value> {
    let (_, stdout, stderr) = run(aigcq(dir).args(["gaps", "--json"]));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"))
}

/// A project whose chapter has `n` empty questions, a draft saved for each; the draft ids.
fn project_with_drafts(n: usize) -> (tempfile::TempDir, Vec<String>) {
    let text = common::chapter_with_gaps(n);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for meta in metas_for("ch.md", &text) {
        store.save(&meta, &answer(meta.index)).unwrap();
    }
    let ids = store.pending().0.into_iter().map(|d| d.id).collect();
    (dir, ids)
}

/// `processes` reviews at once, each accepting its own share of the drafts.
fn accept_concurrently(processes: usize, n: usize) {
    let (dir, ids) = project_with_drafts(n);
    let bin = assert_cmd::cargo::cargo_bin("aigcq");
    let children: Vec<_> = (0..processes)
        .map(|p| {
            let mine: Vec<&String> = ids.iter().skip(p).step_by(processes).collect();
            let mut cmd = Process::new(&bin);
            cmd.current_dir(dir.path())
                .env("NO_COLOR", "1")
                .arg("review")
                .arg("--accept")
                .args(mine)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let left = gaps(dir.path());
    assert!(
        left.is_empty(),
        "{} of {n} answers lost with {processes} processes",
        left.len()
    );
    let entries = ledger(dir.path());
    let mut drafts: Vec<&str> = entries.iter().map(|e| e["draft"].as_str().unwrap()).collect();
    drafts.sort();
    drafts.dedup();
    assert_eq!((entries.len(), drafts.len()), (n, n), "one ledger line per draft");
    assert!(Store::new(dir.path().join("drafts")).pending().0.is_empty());
}

#[test]
fn two_and_four_concurrent_reviews_of_one_chapter_lose_nothing() {
    for _ in 0..3 {
        accept_concurrently(2, 1000);
        accept_concurrently(4, 1000);
    }
}

#[test]
fn a_forced_stale_accept_keeps_the_authors_text_and_undo_restores_it() {
    let (dir, ids) = project_with_drafts(2);
    let chapter = dir.path().join("content/ch.md");
    let original = std::fs::read_to_string(&chapter).unwrap();
    let authored = original.replacen(
        "## 2、问题2是什么？\n\n",
        "## 2、问题2是什么？\n\n作者亲手写下的答案，长度足够，算作真正的回答。\n\n",
        1,
    );
    std::fs::write(&chapter, &authored).unwrap();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all", "--force"]));
    assert_eq!(code, 0, "{stderr}");
    let merged = std::fs::read_to_string(&chapter).unwrap();
    assert!(!merged.contains("作者亲手写下"));
    // The author's text is kept, and the ledger says where.
    let entry = ledger(dir.path())
        .into_iter()
        .find(|e| e["draft"] == ids[0].as_str())
        .unwrap();
    let copy = dir.path().join("drafts").join(entry["undo"].as_str().expect("undo"));
    assert!(std::fs::read_to_string(&copy).unwrap().contains("作者亲手写下"));
    assert_eq!(entry["replaced"], true);

    // Undo the two accepts: the chapter is byte-identical to before, both drafts pending.
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--undo", "2"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&chapter).unwrap(), authored);
    assert_eq!(Store::new(dir.path().join("drafts")).pending().0.len(), 2);
    // Nothing left to undo.
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--undo"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing to undo"), "{stderr}");
}

#[test]
fn undo_brings_a_rejected_draft_back_and_refuses_when_the_chapter_changed_there() {
    let (dir, ids) = project_with_drafts(2);
    let chapter = dir.path().join("content/ch.md");
    run(aigcq(dir.path()).args(["review", "--reject", &ids[1]]));
    run(aigcq(dir.path()).args(["review", "--accept", &ids[0]]));
    let merged = std::fs::read_to_string(&chapter).unwrap();
    // The author rewrites the merged answer by hand: undoing would lose that.
    let touched = merged.replace("**第 2 题**", "**第二题（作者改过）**");
    std::fs::write(&chapter, &touched).unwrap();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--undo"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("changed"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&chapter).unwrap(), touched, "refused untouched");
    std::fs::write(&chapter, &merged).unwrap();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--undo", "2"]));
    assert_eq!(code, 0, "{stderr}");
    let pending: Vec<String> = Store::new(dir.path().join("drafts"))
        .pending()
        .0
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(pending, ids, "the accepted and the rejected draft are pending again");
    assert_eq!(std::fs::read_to_string(&chapter).unwrap(), common::chapter_with_gaps(2));
}

#[test]
fn a_reply_that_opens_html_never_swallows_the_questions_after_it() {
    let text = common::chapter_with_gaps(5);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    let hostile = [
        (2, "答案开头。\n\n<!-- 没有结束的注释\n"),
        (3, "答案开头。\n\n<pre>\n没有结束的 pre\n"),
        (4, "答案开头。\n\n<script>\nvar x = 1;\n"),
    ];
    for (i, body) in hostile {
        store.save(&meta_for("ch.md", &text, i), body).unwrap();
    }
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("never closed"), "{stderr}");
    assert!(stderr.contains("swallow"), "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap(), text);
    assert_eq!(gaps(dir.path()).len(), 5, "every question still there");
}

#[test]
fn draft_repairs_open_html_and_strips_control_characters() {
    let replies = [
        "答案正文，这是一段写得足够长、可以算作真正回答的话。\n\n<!-- 模型忘了关上的注释\n",
        "答案\u{0}正文\u{1b}[8m藏起来的行\u{1b}[0m，足够长的一段话。\u{9b}31m\n",
    ];
    let fake = common::start_in_thread(move |n, _| Reply::stream(replies[n % 2]));
    let text = common::chapter_with_gaps(2);
    let dir = common::project(&text, "");
    let (code, _, stderr) =
        run(aigcq(dir.path()).args(["draft", "--model", "m", "--base-url", &fake.url, "--concurrency", "1"]));
    assert_eq!(code, 0, "{stderr}");
    let drafts = Store::new(dir.path().join("drafts")).pending().0;
    assert_eq!(drafts.len(), 2);
    assert!(
        drafts[0].body.contains("<!-- 模型忘了关上的注释\n-->"),
        "{}",
        drafts[0].body
    );
    assert!(
        drafts[0]
            .meta
            .warnings
            .iter()
            .any(|w| w.code == "cleanup" && w.message.contains("comment"))
    );
    let b = &drafts[1].body;
    assert!(!b.chars().any(|c| c.is_control() && c != '\n'), "{b:?}");
    assert!(
        drafts[1]
            .meta
            .warnings
            .iter()
            .any(|w| w.code == "cleanup" && w.message.contains("control"))
    );
    // Repaired drafts carry a warning: taken with --force.
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all", "--force"]));
    assert_eq!(code, 0, "{stderr}");
    // aigcq can still read its own chapter, and both questions are answered.
    let left = gaps(dir.path());
    assert!(
        left.is_empty(),
        "{left:?}\n{}",
        std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap()
    );
}

#[test]
fn a_hand_edited_draft_with_control_characters_is_refused() {
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    Store::new(dir.path().join("drafts"))
        .save(&meta_for("ch.md", &text, 2), "答案\u{0}和\u{1b}[2J清屏\n")
        .unwrap();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("control character"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "the error names, never writes, the character"
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap(), text);
}

#[test]
fn a_symlinked_chapter_is_scanned_once_and_written_through() {
    let text = common::chapter_with_gaps(2);
    let dir = common::project("", "");
    let content = dir.path().join("content");
    std::fs::remove_file(content.join("ch.md")).unwrap();
    std::fs::create_dir(content.join("real")).unwrap();
    std::fs::write(content.join("real/ch.md"), &text).unwrap();
    std::os::unix::fs::symlink("real/ch.md", content.join("a-link.md")).unwrap();
    assert_eq!(gaps(dir.path()).len(), 2, "one chapter, not two");

    // A draft made for the link's name.
    let store = Store::new(dir.path().join("drafts"));
    store.save(&meta_for("a-link.md", &text, 2), &answer(2)).unwrap();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 0, "{stderr}");
    let link = content.join("a-link.md");
    assert!(
        std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
        "still a link"
    );
    assert!(
        std::fs::read_to_string(content.join("real/ch.md"))
            .unwrap()
            .contains("第 2 题")
    );
}

#[test]
fn leftover_temporary_files_are_removed_unless_a_live_process_holds_them() {
    let (dir, _) = project_with_drafts(1);
    let stale = [
        dir.path().join("content/.aigcq-abc123.tmp"),
        dir.path().join("drafts/ch/.aigcq-def456.tmp"),
    ];
    for p in &stale {
        std::fs::write(p, "half").unwrap();
        set_old(p);
    }
    let held = dir.path().join("content/.aigcq-live.tmp");
    std::fs::write(&held, "being written").unwrap();
    set_old(&held);
    let f = std::fs::File::open(&held).unwrap();
    f.lock().unwrap();
    let other = dir.path().join("content/.notes.tmp");
    std::fs::write(&other, "mine").unwrap();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--list"]));
    assert_eq!(code, 0, "{stderr}");
    for p in &stale {
        assert!(!p.exists(), "{} left", p.display());
    }
    assert!(held.exists(), "held by a live process");
    assert!(other.exists(), "not aigcq's pattern");
    drop(f);
}

/// Back-dates a file's modification time by an hour.
fn set_old(p: &Path) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
}

const CANARY: &str = "sk-canary-7f3a9c2e1b";

#[test]
fn a_key_echoed_by_the_server_never_reaches_output_logs_or_files() {
    let fake = common::start_in_thread(|n, _| match n {
        0 => Reply::Status {
            status: 401,
            body: format!(r#"{{"error":{{"message":"Invalid API key provided: Bearer {CANARY}"}}}}"#),
            headers: vec![("x-echo", CANARY.to_owned())],
        },
        _ => Reply::stream(&format!("答案里有密钥 {CANARY}，足够长的一段话。")),
    });
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let draft = |dir: &Path| {
        run(aigcq(dir)
            .env("OPENAI_API_KEY", CANARY)
            .args(["-vv", "draft", "--model", "m", "--base-url", &fake.url]))
    };
    let (code, stdout, stderr) = draft(dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("401") && stderr.contains("[redacted]"), "{stderr}");
    let (code, stdout2, stderr2) = draft(dir.path());
    assert_eq!(code, 0, "{stderr2}");
    run(aigcq(dir.path()).args(["review", "--accept-all"]));
    for (what, s) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("stdout", &stdout2),
        ("stderr", &stderr2),
    ] {
        assert!(!s.contains(CANARY), "key in {what}: {s}");
    }
    for (path, bytes) in common::files(dir.path()) {
        assert!(!String::from_utf8_lossy(&bytes).contains(CANARY), "key in {path}");
    }
    assert!(
        std::fs::read_to_string(dir.path().join("content/ch.md"))
            .unwrap()
            .contains("[redacted]")
    );
}

#[test]
fn a_base_url_with_a_password_is_refused_without_showing_it() {
    let dir = common::project(&common::chapter_with_gaps(1), "");
    for args in [
        vec!["config", "--base-url", "https://user:hunter2@api.example/v1"],
        vec![
            "draft",
            "--model",
            "m",
            "--base-url",
            "https://user:hunter2@api.example/v1",
        ],
    ] {
        let (code, stdout, stderr) = run(aigcq(dir.path()).args(&args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("user name or password") && stderr.contains("OPENAI_API_KEY"),
            "{stderr}"
        );
        assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"), "{stderr}");
    }
    // A key in the query string is not shown by config.
    let (code, stdout, _) =
        run(aigcq(dir.path()).args(["config", "--base-url", "https://api.example/v1?api-key=hunter2"]));
    assert_eq!(code, 0);
    assert!(
        !stdout.contains("hunter2") && stdout.contains("api-key=[redacted]"),
        "{stdout}"
    );
}
