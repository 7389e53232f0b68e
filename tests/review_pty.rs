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
    p.expect("merged into content/ch.md").unwrap();
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
    p.expect("keep the draft pending").unwrap();
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
    p.expect("accepted 0, rejected 0, skipped 2").unwrap();
    p.expect(expectrl::Eof).unwrap();
    assert_eq!(chapter(dir.path()), after_two);
    assert_eq!(store.pending().0.len(), 2);
}
