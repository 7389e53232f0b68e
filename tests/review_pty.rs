//! The interactive review driven through a real pseudo-terminal: next and previous candidate,
//! edit (with `EDITOR` set to a script that changes the text), reject, accept, help, whole
//! answer, skip and quit, checking the files on disk after each step.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aigcq::store::Store;
use common::meta_for;
use expectrl::session::OsSession;
use expectrl::{Expect, Session};

fn session(dir: &Path, editor: &Path) -> OsSession {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("aigcq"));
    cmd.arg("review")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("VISUAL")
        .env("EDITOR", editor);
    let mut s = Session::spawn(cmd).unwrap();
    s.set_expect_timeout(Some(Duration::from_secs(20)));
    s
}

fn chapter(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("content/ch.md")).unwrap()
}

fn rejected(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("drafts/.rejected/ch")).map_or(0, |d| d.count())
}

#[test]
fn accept_reject_skip_edit_next_candidate_and_quit() {
    let text = common::chapter_with_gaps(3);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    let answer = |i: usize, c: u32| format!("问题 {i} 的候选 {c}：一个写得足够长、可以算作真正回答的答案。\n");
    for (i, k) in [(2, 2), (3, 1), (4, 1)] {
        for c in 1..=k {
            let mut meta = meta_for("ch.md", &text, i);
            (meta.candidate, meta.candidates) = (c, k);
            store.save(&meta, &answer(i, c)).unwrap();
        }
    }
    let editor = dir.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/的候选 2/的候选 2（作者改过）/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut p = session(dir.path(), &editor);
    p.expect("[1/3]").unwrap();
    p.expect("candidate 1 of 2").unwrap();
    p.expect("+问题 2 的候选 1").unwrap();
    p.send("n").unwrap();
    p.expect("candidate 2 of 2").unwrap();
    p.expect("+问题 2 的候选 2").unwrap();
    p.send("e").unwrap();
    p.expect("候选 2（作者改过）").unwrap();
    assert_eq!(chapter(dir.path()), text, "editing a draft does not touch the chapter");
    // Back to candidate 1 and reject it; the edited candidate 2 is then the only one.
    p.send("p").unwrap();
    p.expect("candidate 1 of 2").unwrap();
    p.send("r").unwrap();
    p.expect("rejected").unwrap();
    p.expect("candidate 1 of 1").unwrap();
    assert_eq!(rejected(dir.path()), 1);
    p.send("a").unwrap();
    p.expect("merged candidate 1 of 1").unwrap();
    p.expect("into content/ch.md").unwrap();
    p.expect("[2/3]").unwrap();
    assert!(chapter(dir.path()).contains("问题 2 的候选 2（作者改过）"));
    assert!(!chapter(dir.path()).contains("问题 2 的候选 1"));
    assert_eq!(rejected(dir.path()), 1);

    p.expect("+问题 3 的候选 1").unwrap();
    p.send("r").unwrap();
    p.expect("rejected").unwrap();
    p.expect("[3/3]").unwrap();
    assert_eq!(rejected(dir.path()), 2);
    let after_two = chapter(dir.path());
    assert!(!after_two.contains("问题 3 的候选"));

    p.send("?").unwrap();
    p.expect("keep the question's drafts pending").unwrap();
    p.send("d").unwrap();
    p.expect("问题 4 的候选 1").unwrap();
    p.send("s").unwrap();
    p.expect("accepted 1, rejected 2, skipped 1").unwrap();
    p.expect(expectrl::Eof).unwrap();
    assert_eq!(chapter(dir.path()), after_two, "skipping writes nothing");
    assert_eq!(store.pending().0.len(), 1, "the skipped draft is still pending");

    // A new draft for question 3; quitting at the first question skips both.
    store.save(&meta_for("ch.md", &after_two, 3), &answer(3, 9)).unwrap();
    let mut p = session(dir.path(), &editor);
    p.expect("[1/2]").unwrap();
    p.send("q").unwrap();
    p.expect("accepted 0, rejected 0, skipped 1, not seen 1").unwrap();
    p.expect(expectrl::Eof).unwrap();
    assert_eq!(chapter(dir.path()), after_two);
    assert_eq!(store.pending().0.len(), 2);
}

/// Waits for `what` on the terminal, keeping all it showed up to there in `seen`.
fn upto(p: &mut OsSession, seen: &mut Vec<u8>, what: &str) {
    let c = p.expect(what).unwrap();
    seen.extend_from_slice(c.before());
    seen.extend_from_slice(c.get(0).unwrap());
}

fn spawn(cmd: Command, timeout: Duration) -> OsSession {
    let mut s = Session::spawn(cmd).unwrap();
    s.set_expect_timeout(Some(timeout));
    s
}

fn review_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("aigcq"));
    cmd.arg("review")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("VISUAL")
        .env_remove("EDITOR");
    cmd
}

#[test]
fn with_stdout_piped_review_refuses_at_once_instead_of_looping() {
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    Store::new(dir.path().join("drafts"))
        .save(
            &meta_for("ch.md", &text, 2),
            "一个写得足够长、可以算作真正回答的答案。\n",
        )
        .unwrap();
    let bin = assert_cmd::cargo::cargo_bin("aigcq");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("NO_COLOR=1 '{}' review | wc -c", bin.display()))
        .current_dir(dir.path());
    let mut p = spawn(cmd, Duration::from_secs(2));
    p.expect("needs a terminal").unwrap();
    let got = p.expect(expectrl::Regex(r"\d+")).unwrap();
    let bytes: usize = String::from_utf8_lossy(got.get(0).unwrap()).parse().unwrap();
    assert!(bytes < 10 * 1024, "{bytes} bytes written to the pipe");
    p.expect(expectrl::Eof).unwrap();
}

/// Issue 27: a screen taller than the terminal is scrolled inside the review, never handed
/// to a pager that takes the keys and leaves nothing behind; the status line names the
/// candidate the keys act on wherever the view is.
#[test]
fn a_tall_diff_scrolls_inside_the_review_and_the_keys_stay_its_own() {
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    let tall: String = (1..=60).map(|i| format!("第 {i} 行：候选一的长答案。\n\n")).collect();
    for (c, body) in [
        (1, tall.as_str()),
        (2, "候选二：短的答案，写得足够长、可以算作回答。\n"),
    ] {
        let mut meta = meta_for("ch.md", &text, 2);
        (meta.candidate, meta.candidates) = (c, 2);
        store.save(&meta, body).unwrap();
    }
    let marker = dir.path().join("pager-ran");
    let mut cmd = review_cmd(dir.path());
    cmd.env("PAGER", format!("touch '{}'; cat > /dev/null", marker.display()));
    let mut p = spawn(cmd, Duration::from_secs(20));
    p.get_process_mut().set_window_size(80, 24).unwrap();
    let lines = |p: &mut OsSession| -> (usize, usize, usize) {
        let c = p
            .expect(expectrl::Regex(
                r"\[1/1\] #2 · candidate 1 of 2 · lines (\d+)–(\d+) of (\d+)",
            ))
            .unwrap();
        let n = |i: usize| String::from_utf8_lossy(c.get(i).unwrap()).parse().unwrap();
        (n(1), n(2), n(3))
    };
    let (top, end, of) = lines(&mut p);
    assert!(top == 1 && end < of && of > 100, "{top}–{end} of {of}");
    p.send(" ").unwrap();
    let (next, _, _) = lines(&mut p);
    assert_eq!(next, end + 1, "a page down");
    p.send("G").unwrap();
    let (_, last, _) = lines(&mut p);
    assert_eq!(last, of);
    p.send("n").unwrap();
    p.expect("+候选二").unwrap();
    p.send("p").unwrap();
    assert_eq!(lines(&mut p).0, 1, "back at its top");
    p.send("a").unwrap();
    p.expect("merged candidate 1 of 2").unwrap();
    p.expect("every question is decided").unwrap();
    p.send("q").unwrap();
    p.expect(expectrl::Eof).unwrap();
    assert!(
        chapter(dir.path()).contains("候选一的长答案"),
        "the key acted on the candidate named"
    );
    assert!(!chapter(dir.path()).contains("候选二"));
    assert!(!marker.exists(), "no pager ran");
}

/// Issue 27: the app's own styling in `i` and `c` reaches the terminal as styling; only text
/// from drafts is escaped (here an OSC sequence in a warning).
#[test]
fn i_and_c_style_their_screens_and_escape_only_the_drafts_text() {
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let mut meta = meta_for("ch.md", &text, 2);
    meta.warnings = vec![aigcq::store::Warning {
        code: "links".into(),
        message: "\x1b]0;pwned\x07 possibly made up".into(),
    }];
    Store::new(dir.path().join("drafts"))
        .save(&meta, "一个写得足够长、可以算作真正回答的答案。\n")
        .unwrap();
    let mut cmd = review_cmd(dir.path());
    cmd.env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .env("TERM", "xterm-256color");
    let mut p = spawn(cmd, Duration::from_secs(20));
    let mut seen = Vec::new();
    upto(&mut p, &mut seen, "? help");
    p.send("i").unwrap();
    upto(&mut p, &mut seen, "what made");
    upto(&mut p, &mut seen, "? help");
    p.send("c").unwrap();
    upto(&mut p, &mut seen, "什么是扩散模型");
    upto(&mut p, &mut seen, "? help");
    p.send("q").unwrap();
    upto(&mut p, &mut seen, "accepted 0");
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.contains("\x1b[1m"), "styled: {seen}");
    assert!(!seen.contains("␛["), "the app's styling shown as text: {seen}");
    assert!(seen.contains("␛]0;pwned") && !seen.contains("\x1b]0;pwned"), "{seen}");
}

#[test]
fn unknown_keys_say_so_and_navigation_keys_work() {
    let text = common::chapter_with_gaps(3);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for i in [2, 3, 4] {
        let mut meta = meta_for("ch.md", &text, i);
        if i == 3 {
            meta.truncated = true;
        }
        store
            .save(&meta, &format!("问题 {i} 的答案：写得足够长、可以算作真正的回答。\n"))
            .unwrap();
    }
    let mut p = spawn(review_cmd(dir.path()), Duration::from_secs(20));
    p.expect("[1/3]").unwrap();
    p.send("x").unwrap();
    p.expect("unknown key 'x' — ? for help").unwrap();
    p.send("n").unwrap();
    p.expect("only one candidate").unwrap();
    p.send("=").unwrap();
    p.expect("nothing to compare").unwrap();
    p.send("b").unwrap();
    p.expect("this is the first question left").unwrap();
    p.send(":").unwrap();
    p.expect("go to question (1–3)").unwrap();
    p.send("3\r").unwrap();
    p.expect("[3/3]").unwrap();
    p.send("b").unwrap();
    p.expect("[2/3]").unwrap();
    // Question 3's draft was cut at max_tokens: accepting it takes a second key.
    p.send("a").unwrap();
    p.expect("cut at max_tokens; accept anyway? [y/N]").unwrap();
    p.send("n").unwrap();
    p.expect("not accepted").unwrap();
    assert_eq!(chapter(dir.path()), text);
    p.send("c").unwrap();
    p.expect("── 1、什么是扩散模型？ (#1) ──").unwrap();
    p.send("s").unwrap();
    p.expect("skipped question [2/3]").unwrap();
    p.expect("[3/3]").unwrap();
    p.send("q").unwrap();
    p.expect("accepted 0, rejected 0, skipped 3").unwrap();
}

#[test]
fn an_edit_that_empties_the_answer_asks_again_and_never_drops_the_draft() {
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    store
        .save(
            &meta_for("ch.md", &text, 2),
            "原来的答案：写得足够长、可以算作真正的回答。\n",
        )
        .unwrap();
    let before = std::fs::read(&store.pending().0[0].path).unwrap();
    let editor = dir.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\n: > \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut p = session(dir.path(), &editor);
    p.expect("[1/1]").unwrap();
    p.send("e").unwrap();
    p.expect("the answer is empty").unwrap();
    p.expect("edit again?").unwrap();
    p.send("n").unwrap();
    p.expect("the draft is unchanged").unwrap();
    p.send("q").unwrap();
    p.expect(expectrl::Eof).unwrap();
    let pending = store.pending().0;
    assert_eq!(pending.len(), 1);
    assert_eq!(std::fs::read(&pending[0].path).unwrap(), before);
}

#[test]
fn feedback_makes_a_new_candidate_from_the_kept_conversation_then_accept_and_undo() {
    let fake = common::start_in_thread(|n, _| match n {
        0 => common::Reply::stream("第一版答案：写得足够长、可以算作真正回答的内容。"),
        // A model that thinks before it answers: the review shows it is waiting.
        _ => common::Reply::Thinking(
            Duration::from_millis(800),
            Box::new(common::Reply::stream(
                "| 版本 | 创新 |\n| --- | --- |\n| 2.0 | 双语 |\n\n第二版答案，用表格对比。",
            )),
        ),
    });
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let draft = std::process::Command::new(assert_cmd::cargo::cargo_bin("aigcq"))
        .current_dir(dir.path())
        .args(["draft", "--model", "m", "--base-url", &fake.url])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(draft.status.success(), "{}", String::from_utf8_lossy(&draft.stderr));
    let first = Store::new(dir.path().join("drafts")).pending().0.remove(0);
    assert!(
        aigcq::store::prompt_path(&first.path).is_file(),
        "the prompt is kept beside the draft"
    );

    let mut cmd = review_cmd(dir.path());
    cmd.env("OPENAI_BASE_URL", &fake.url).env("AIGCQ_MODEL", "m");
    let mut p = spawn(cmd, Duration::from_secs(20));
    p.expect("candidate 1 of 1").unwrap();
    p.send("i").unwrap();
    p.expect("[system]").unwrap();
    p.expect("[user]").unwrap();
    p.send("f").unwrap();
    p.expect("feedback for the model").unwrap();
    p.send("用对比表格列出各版本的创新\r").unwrap();
    // Issue 27: a progress line with the time waited, not 20 s of nothing.
    p.expect("[00:00:0").unwrap();
    p.expect("new candidate 2 of 2").unwrap();
    p.expect("+| 版本 | 创新 |").unwrap();
    p.send("=").unwrap();
    p.expect("── candidate 2 → candidate 1 of 2 ──").unwrap();
    p.expect("+第一版答案").unwrap();
    let bodies = fake.seen.bodies.lock().unwrap().clone();
    let sent = &bodies[1]["messages"];
    let roles: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(sent[0], bodies[0]["messages"][0], "the stored conversation");
    assert_eq!(sent[1], bodies[0]["messages"][1]);
    assert_eq!(sent[2]["content"], first.body.trim_end());
    assert_eq!(sent[3]["content"], "用对比表格列出各版本的创新");
    p.send("a").unwrap();
    p.expect("merged candidate 2 of 2").unwrap();
    assert!(chapter(dir.path()).contains("第二版答案"));
    let new = Store::new(dir.path().join("drafts.rejected")).pending().0;
    assert!(new.is_empty());
    p.send("u").unwrap();
    p.expect("undid the accept").unwrap();
    assert_eq!(chapter(dir.path()), text, "the chapter is byte-identical again");
    p.expect("candidate 1 of 2").unwrap();
    p.send("q").unwrap();
    p.expect(expectrl::Eof).unwrap();
    let pending = Store::new(dir.path().join("drafts")).pending().0;
    assert_eq!(pending.len(), 2, "both candidates pending again");
    assert_eq!(pending[1].meta.parent.as_deref(), Some(first.id.as_str()));
    assert_eq!(pending[1].meta.feedback.as_deref(), Some("用对比表格列出各版本的创新"));
}

#[test]
fn ctrl_c_prints_the_summary_and_exits_130() {
    let text = common::chapter_with_gaps(2);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for i in [2, 3] {
        store
            .save(
                &meta_for("ch.md", &text, i),
                "一个写得足够长、可以算作真正回答的答案。\n",
            )
            .unwrap();
    }
    let bin = assert_cmd::cargo::cargo_bin("aigcq");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "NO_COLOR=1 PAGER=cat '{}' review; echo \"exit=$?\"",
            bin.display()
        ))
        .current_dir(dir.path());
    let mut p = spawn(cmd, Duration::from_secs(20));
    p.expect("[1/2]").unwrap();
    // The legend is the last line before the key is read; a moment more lets the terminal
    // go raw, so that Ctrl-C arrives as a key rather than as SIGINT (seen once under load).
    p.expect("? help").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    p.send("\x03").unwrap();
    p.expect("interrupted: accepted 0, rejected 0, skipped 1, not seen 1")
        .unwrap();
    p.expect("exit=130").unwrap();
    assert_eq!(store.pending().0.len(), 2);
}

#[test]
fn the_header_shows_score_and_warnings_and_i_lists_the_references() {
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    let mut meta = meta_for("ch.md", &text, 2);
    meta.score = Some(8);
    meta.reasons = Some("要点齐全，结构清晰".into());
    meta.judge = Some("judge-model".into());
    meta.warnings = vec![aigcq::store::Warning {
        code: "links".into(),
        message: "not in any reference or the chapter, possibly made up: https://x.example".into(),
    }];
    meta.references = vec![aigcq::refs::Record {
        source: "refs/ch/2-notes.md".into(),
        hash: "0123456789ab".into(),
        chars: 420,
        truncated: true,
    }];
    store.save(&meta, "一个写得足够长、可以算作真正回答的答案。\n").unwrap();
    let mut p = session(dir.path(), Path::new("true"));
    p.expect("[1/1]").unwrap();
    p.expect("! links: not in any reference").unwrap();
    p.expect("score 8/10 (judge-model): 要点齐全，结构清晰").unwrap();
    p.send("i").unwrap();
    p.expect("reference  refs/ch/2-notes.md (420 chars, cut to fit, 0123456789ab)")
        .unwrap();
    p.send("q").unwrap();
    p.expect(expectrl::Eof).unwrap();
}

/// Issue 26: `review --blind` compares models fairly: neither candidate's model is on screen
/// (nor behind i) until one is accepted, which then names it.
#[test]
fn a_blind_review_names_the_model_only_once_its_candidate_is_accepted() {
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for (c, model) in [(1, "model-alpha"), (2, "model-beta")] {
        let mut meta = meta_for("ch.md", &text, 2);
        (meta.candidate, meta.candidates, meta.model) = (c, 2, model.into());
        store
            .save(&meta, &format!("候选 {c}：写得足够长、可以算作回答的答案。\n"))
            .unwrap();
    }
    let mut cmd = review_cmd(dir.path());
    cmd.arg("--blind");
    let mut p = spawn(cmd, Duration::from_secs(20));
    let mut seen = Vec::new();
    upto(&mut p, &mut seen, "candidate 1 of 2");
    p.send("n").unwrap();
    upto(&mut p, &mut seen, "candidate 2 of 2");
    p.send("i").unwrap();
    upto(&mut p, &mut seen, "a blind review hides");
    let before = String::from_utf8_lossy(&seen).into_owned();
    assert!(
        !before.contains("model-alpha") && !before.contains("model-beta"),
        "{before}"
    );
    assert!(before.contains("model hidden (--blind)"), "{before}");
    p.send("a").unwrap();
    p.expect("(it was model-beta's)").unwrap();
}

#[test]
fn a_page_and_a_terminal_review_of_one_chapter_lose_nothing_and_decide_nothing_twice() {
    let text = common::chapter_with_gaps(3);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for i in 2..=4 {
        store
            .save(
                &meta_for("ch.md", &text, i),
                &format!("问题 {i} 的答案，写得足够长，可以算作真正的回答。\n"),
            )
            .unwrap();
    }
    let web = common::web::Web::start(dir.path());
    assert!(web.get("/review").body.contains("问题 2 的答案"));
    let mut p = spawn(review_cmd(dir.path()), Duration::from_secs(20));
    p.expect("[1/3]").unwrap();
    // The terminal takes question 2; the page, which showed it, moves on to question 3.
    p.send("a").unwrap();
    p.expect("merged candidate 1 of 1").unwrap();
    let page = web.get("/review").body;
    assert!(
        page.contains("decided elsewhere") && page.contains("问题 3 的答案"),
        "{page}"
    );
    assert_eq!(web.post("/op", "op=accept").status, 303);
    // The terminal, still showing question 3, finds it decided by the page: it says so, moves
    // on to question 4 and merges nothing twice.
    p.send("a").unwrap();
    p.expect("decided elsewhere").unwrap();
    p.expect("[3/3]").unwrap();
    p.send("a").unwrap();
    p.expect("merged candidate 1 of 1").unwrap();
    p.send("q").unwrap();
    p.expect(expectrl::Eof).unwrap();
    web.stop();
    let now = chapter(dir.path());
    for i in 2..=4 {
        assert_eq!(
            now.matches(&format!("问题 {i} 的答案")).count(),
            1,
            "question {i}:\n{now}"
        );
    }
    let entries = common::ledger(dir.path());
    let accepted: Vec<&str> = entries
        .iter()
        .filter(|e| e["decision"] == "accepted")
        .map(|e| e["draft"].as_str().unwrap())
        .collect();
    assert_eq!(accepted.len(), 3, "{entries:?}");
    assert!(store.pending().0.is_empty());
}
