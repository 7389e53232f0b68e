//! `aigcq review` run as a user runs it: listing, accepting, rejecting, stale and merged
//! drafts, bad input, and the bundled chapter with all four gaps accepted.

mod common;

use std::path::Path;

use aigcq::store::Store;
use assert_cmd::Command;
use common::{git, ledger, meta_for};

fn aigcq(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("aigcq").unwrap();
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

fn answer(i: usize) -> String {
    format!("**第 {i} 题**：这是一个写得足够长、可以算作真正回答的答案正文。\n\n1. 要点一\n2. 要点二\n")
}

/// A project whose chapter has `gaps` empty questions and a draft for each (candidates
/// 1..=k per question).
fn project_with_drafts(gaps: usize, k: u32) -> (tempfile::TempDir, String) {
    let text = common::chapter_with_gaps(gaps);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for i in 2..gaps + 2 {
        for c in 1..=k {
            let mut meta = meta_for("ch.md", &text, i);
            (meta.candidate, meta.candidates) = (c, k);
            store.save(&meta, &format!("{}候选 {c}。\n", answer(i))).unwrap();
        }
    }
    (dir, text)
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn list(dir: &Path) -> serde_json::Value {
    let (code, stdout, stderr) = run(aigcq(dir).args(["review", "--list", "--json"]));
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn list_accept_and_reject_by_id() {
    let (dir, text) = project_with_drafts(3, 1);
    let rows = list(dir.path());
    assert_eq!(rows.as_array().unwrap().len(), 3);
    let first = &rows[0];
    for field in ["id", "file", "index", "question", "kind", "model", "candidate", "stale"] {
        assert!(first.get(field).is_some(), "{field} missing: {first}");
    }
    assert_eq!(first["index"], 2);
    assert_eq!(first["stale"], false);
    // A chapter given as a path, as a shell completes it, narrows like its name.
    let (code, stdout, _) = run(aigcq(dir.path()).args(["review", "--list", "--json", "content/ch.md#3"]));
    assert_eq!(code, 0);
    let narrowed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(narrowed.as_array().unwrap().len(), 1);
    assert_eq!(narrowed[0]["index"], 3);
    let (id2, id3) = (
        rows[0]["id"].as_str().unwrap().to_owned(),
        rows[1]["id"].as_str().unwrap().to_owned(),
    );

    let short = id2.rsplit('/').next().unwrap();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept", short, "--reject", &id3]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("accepted 1, rejected 1, failed 0"), "{stderr}");
    let now = std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap();
    assert_eq!(
        now,
        text.replacen(
            "## 2、问题2是什么？\n\n",
            &format!("## 2、问题2是什么？\n\n{}候选 1。\n\n", answer(2)),
            1
        )
    );
    assert!(dir.path().join(format!("drafts/.rejected/{id3}.md")).is_file());
    let entries = ledger(dir.path());
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0]["decision"].as_str(), entries[1]["decision"].as_str()),
        (Some("accepted"), Some("rejected"))
    );
    assert_eq!(entries[0]["draft"], id2.as_str());
    assert_eq!(list(dir.path()).as_array().unwrap().len(), 1);

    let (code, _, _) = run(aigcq(dir.path()).args(["review", "--reject-all", "--purge"]));
    assert_eq!(code, 0);
    assert_eq!(list(dir.path()).as_array().unwrap().len(), 0);
    assert_eq!(
        std::fs::read_dir(dir.path().join("drafts/.rejected/ch"))
            .unwrap()
            .count(),
        1,
        "purged, not kept"
    );
}

#[test]
fn accept_all_takes_one_candidate_per_question_and_rejects_the_others() {
    let (dir, _) = project_with_drafts(2, 3);
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("accepted 2, rejected 4"), "{stderr}");
    let now = std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap();
    assert_eq!(now.matches("候选 1。").count(), 2);
    assert!(!now.contains("候选 2"));
    let siblings = ledger(dir.path()).iter().filter(|e| e["sibling"] == true).count();
    assert_eq!(siblings, 4);
    let (code, stdout, _) = run(aigcq(dir.path()).args(["gaps", "--json"]));
    assert_eq!((code, stdout.trim()), (0, "[]"));
}

#[test]
fn stale_drafts_need_force_and_merged_ones_are_cleaned_up() {
    let (dir, text) = project_with_drafts(2, 1);
    let chapter = dir.path().join("content/ch.md");
    // Someone answered question 2 by hand meanwhile; question 3 is untouched.
    let edited = text.replacen(
        "## 2、问题2是什么？\n\n",
        "## 2、问题2是什么？\n\n作者亲手写下的答案，长度足够，算作真正的回答。\n\n",
        1,
    );
    std::fs::write(&chapter, &edited).unwrap();
    let rows = list(dir.path());
    assert_eq!(
        (rows[0]["stale"].as_bool(), rows[1]["stale"].as_bool()),
        (Some(true), Some(false))
    );
    let id2 = rows[0]["id"].as_str().unwrap().to_owned();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept", &id2]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&id2) && stderr.contains("stale") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&chapter).unwrap(), edited, "nothing written");
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept", &id2, "--force"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(!std::fs::read_to_string(&chapter).unwrap().contains("作者亲手写下"));

    // A run that stopped after writing the chapter: the draft is still there, its answer too.
    let id3 = rows[1]["id"].as_str().unwrap().to_owned();
    let draft = dir.path().join(format!("drafts/{id3}.md"));
    let saved = std::fs::read(&draft).unwrap();
    run(aigcq(dir.path()).args(["review", "--accept", &id3]));
    let after = std::fs::read(&chapter).unwrap();
    std::fs::write(&draft, saved).unwrap();
    assert_eq!(list(dir.path())[0]["merged"], true);
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("already in the chapter, cleaned up"), "{stderr}");
    assert_eq!(std::fs::read(&chapter).unwrap(), after, "not merged twice");
    assert!(!draft.exists());
}

#[test]
fn bad_drafts_and_chapters_are_named_and_the_rest_goes_on() {
    let (dir, _) = project_with_drafts(1, 1);
    let d = dir.path().join("drafts");
    let good = Store::new(d.clone()).pending().0.remove(0);
    let body = std::fs::read_to_string(&good.path).unwrap();
    // The same draft for another chapter path (its question id follows the path).
    let variant = |name: &str, chapter: &str| {
        let p = d.join(format!("ch/{name}.md"));
        std::fs::write(&p, body.replace("\"ch.md", &format!("\"{chapter}"))).unwrap();
        name.to_owned()
    };
    std::fs::write(d.join("ch/broken.md"), "+++\nchapter = \n+++\nx").unwrap();
    let escape = variant("escape", "../secret.md");
    let absolute = variant("absolute", "/etc/hostname");
    let gone = variant("gone", "nope.md");
    std::fs::write(dir.path().join("secret.md"), "## 1、秘密？\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.md"), dir.path().join("content/link.md")).unwrap();
    let link = variant("link", "link.md");
    std::fs::write(dir.path().join("content/latin1.md"), b"## 1\xff\n").unwrap();
    let latin1 = variant("latin1", "latin1.md");

    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("broken.md") && stderr.contains("invalid front matter"),
        "{stderr}"
    );
    for (id, why) in [
        (&escape, "leaves the content folder"),
        (&absolute, "leaves the content folder"),
        (&gone, "not found"),
        (&link, "outside the content folder"),
        (&latin1, "not valid UTF-8"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(&format!("ch/{id}")))
            .unwrap_or_else(|| panic!("{id} not named: {stderr}"));
        assert!(line.contains(why), "{line}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("secret.md")).unwrap(),
        "## 1、秘密？\n"
    );
    assert!(
        std::fs::read_to_string(dir.path().join("content/ch.md"))
            .unwrap()
            .contains("候选 1"),
        "the good draft merged"
    );
}

#[test]
fn a_read_only_chapter_is_left_alone_and_its_draft_stays_pending() {
    let (dir, text) = project_with_drafts(1, 1);
    let chapter = dir.path().join("content/ch.md");
    let mut p = std::fs::metadata(&chapter).unwrap().permissions();
    p.set_readonly(true);
    std::fs::set_permissions(&chapter, p).unwrap();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("read-only"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&chapter).unwrap(), text);
    assert_eq!(list(dir.path()).as_array().unwrap().len(), 1);
    assert!(ledger(dir.path()).is_empty());
}

#[test]
fn without_a_terminal_review_refuses_to_wait() {
    let (dir, _) = project_with_drafts(1, 1);
    let (code, _, stderr) = run(aigcq(dir.path()).arg("review").write_stdin(""));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("needs a terminal") && stderr.contains("--accept-all"),
        "{stderr}"
    );
}

#[test]
fn all_four_gaps_of_the_bundled_chapter_accepted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = "第一章_主流AIGC图像生成编辑大模型高频考点.md";
    let text = std::fs::read_to_string(root.join("content").join(name)).unwrap();
    let dir = common::project("", "");
    std::fs::remove_file(dir.path().join("content/ch.md")).unwrap();
    std::fs::write(dir.path().join("content").join(name), &text).unwrap();
    let store = Store::new(dir.path().join("drafts"));
    for i in [7, 8, 11, 12] {
        store.save(&meta_for(name, &text, i), &answer(i)).unwrap();
    }
    let findings = |dir: &Path| {
        let (_, stdout, _) = run(aigcq(dir).args(["check", "--json"]));
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let mut f: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["rule"], f["message"]))
            .collect();
        f.sort();
        f
    };
    let before = findings(dir.path());
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("accepted 4"), "{stderr}");
    let (code, stdout, _) = run(aigcq(dir.path()).args(["gaps", "--json"]));
    assert_eq!((code, stdout.trim()), (0, "[]"));
    assert_eq!(findings(dir.path()), before, "check reports nothing new");
}

#[test]
fn with_commit_each_chapter_write_is_one_commit_of_that_file() {
    let (dir, _) = project_with_drafts(2, 1);
    // Outside a git work tree --commit refuses, changing nothing.
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all", "--commit"]));
    assert_eq!(code, 2);
    assert!(stderr.contains("git work tree"), "{stderr}");
    assert_eq!(list(dir.path()).as_array().unwrap().len(), 2);

    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "content"]);
    git(dir.path(), &["commit", "-q", "-m", "the book"]);
    std::fs::write(dir.path().join("notes.txt"), "not aigcq's").unwrap();
    git(dir.path(), &["add", "notes.txt"]);
    let (code, _, stderr) = run(aigcq(dir.path())
        .args(["review", "--accept-all", "--commit"])
        .envs(common::GIT_IDENTITY));
    assert_eq!(code, 0, "{stderr}");
    let log = git(dir.path(), &["log", "-1", "--format=%B"]);
    assert!(
        log.contains("answer questions 2, 3 of ch.md") && log.contains("model: m"),
        "{log}"
    );
    let files = git(dir.path(), &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.trim(), "content/ch.md", "that file alone");
    let staged = git(dir.path(), &["diff", "--cached", "--name-only"]);
    assert_eq!(staged.trim(), "notes.txt", "the author's staged file is left staged");
}

/// Issue 27: `--undo --run` takes back a whole `--accept-all` over several chapters, newest
/// first, and every chapter is byte-identical again; decisions of an earlier run stand.
#[test]
fn undo_run_takes_back_a_whole_accept_all() {
    let text = common::chapter_with_gaps(3);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for ch in ["ch.md", "b.md", "sub/c.md"] {
        let path = dir.path().join("content").join(ch);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        for i in 2..5 {
            for c in 1..=2 {
                let mut meta = meta_for(ch, &text, i);
                (meta.candidate, meta.candidates) = (c, 2);
                store.save(&meta, &format!("{}候选 {c}。\n", answer(i))).unwrap();
            }
        }
    }
    // An earlier run accepts one draft of ch.md; it must stand.
    let first = list(dir.path())[0]["id"].as_str().unwrap().to_owned();
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept", &first]));
    assert_eq!(code, 0, "{stderr}");
    let before = common::files(&dir.path().join("content"));
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 0, "{stderr}");
    assert_ne!(common::files(&dir.path().join("content")), before);

    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--undo", "--run"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(common::files(&dir.path().join("content")), before, "{stderr}");
    assert_eq!(stderr.matches("undid the accept of").count(), 8, "{stderr}");
    assert_eq!(
        list(dir.path()).as_array().unwrap().len(),
        16,
        "both candidates of 8 questions pending again"
    );
    // The next --undo --run takes back the earlier run: its one accept.
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--undo", "--run"]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.matches("undid the accept of").count(), 1, "{stderr}");
    assert_eq!(std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap(), text);
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--undo", "--run"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nothing to undo"), "{stderr}");
}

/// Two runs that decided at the same time: `--undo --run` refuses, changing nothing, rather
/// than take back half a run or another run's decision.
#[test]
fn undo_run_refuses_a_run_split_by_another() {
    let (dir, _) = project_with_drafts(3, 1);
    for row in list(dir.path()).as_array().unwrap().clone() {
        let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept", row["id"].as_str().unwrap()]));
        assert_eq!(code, 0, "{stderr}");
    }
    let path = dir.path().join("drafts/ledger.jsonl");
    let mut lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["run"] = lines[2]["run"].clone();
    let joined: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, joined).unwrap();
    let before = common::files(dir.path());
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--undo", "--run"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("both sides of another run's") && stderr.contains("ledger.jsonl:2"),
        "{stderr}"
    );
    assert_eq!(common::files(dir.path()), before);
}

/// Issue 27: a question drafted twice (once alone, once with two candidates) and revised once
/// is numbered 1/4 … 4/4 in `--list`, as the interactive review numbers it, not by each run's
/// own count (1/1, 1/2, 2/2, 3/3).
#[test]
fn candidates_are_numbered_per_question() {
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for (c, of) in [(1, 1), (1, 2), (2, 2), (3, 3)] {
        let mut meta = meta_for("ch.md", &text, 2);
        (meta.candidate, meta.candidates) = (c, of);
        meta.created = format!("2026-12-0{c}T00:00:0{of}Z");
        store.save(&meta, &format!("{}第 {c}/{of} 份。\n", answer(2))).unwrap();
    }
    let rows = list(dir.path());
    let numbers: Vec<(u64, u64)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["candidate"].as_u64().unwrap(), r["candidates"].as_u64().unwrap()))
        .collect();
    assert_eq!(numbers, [(1, 4), (2, 4), (3, 4), (4, 4)]);
}

/// Issue 26: `--accept-all` takes only what is safe. A truncated draft and a warned one stay
/// pending and are listed with the reason; of a question's candidates the clean one is taken;
/// every merged question is listed; `--force` takes the rest.
#[test]
fn accept_all_leaves_truncated_and_warned_drafts_pending_and_says_why() {
    let text = common::chapter_with_gaps(4);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    let leak = aigcq::store::Warning {
        code: "leak".into(),
        message: "the prompt's tag </示例> is in the answer".into(),
    };
    let save = |i: usize, c: u32, of: u32, truncated: bool, warned: bool| {
        let mut meta = meta_for("ch.md", &text, i);
        (meta.candidate, meta.candidates, meta.truncated) = (c, of, truncated);
        if warned {
            meta.warnings = vec![leak.clone()];
        }
        store.save(&meta, &format!("{}候选 {c}。\n", answer(i))).unwrap();
    };
    save(2, 1, 1, false, false);
    save(3, 1, 1, true, false);
    save(4, 1, 1, false, true);
    save(5, 1, 2, false, true);
    save(5, 2, 2, false, false);
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all"]));
    assert_eq!(code, 0, "{stderr}");
    let merged = std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap();
    assert!(merged.contains(&format!("{}候选 1。", answer(2))), "{merged}");
    assert!(
        merged.contains(&format!("{}候选 2。", answer(5))),
        "the clean candidate: {merged}"
    );
    assert!(!merged.contains(&answer(3)) && !merged.contains(&answer(4)));
    for line in [
        "merged ch.md#2",
        "merged ch.md#5",
        "left ch.md#3",
        "cut at max_tokens",
        "left ch.md#4",
        "warn: leak",
        "--force",
    ] {
        assert!(stderr.contains(line), "{line:?} missing: {stderr}");
    }
    let left: Vec<usize> = store.pending().0.iter().map(|d| d.meta.index).collect();
    assert_eq!(left, [3, 4]);
    let (code, _, stderr) = run(aigcq(dir.path()).args(["review", "--accept-all", "--force"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(store.pending().0.is_empty(), "{stderr}");
}
