//! Crash safety: `aigcq review --accept-all` killed with SIGKILL at random moments, 100 times.
//! Every chapter must be byte-identical to its old or its new version, every draft either
//! still pending or merged and in the ledger, and after the next run the ledger holds exactly
//! one line per draft.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aigcq::review::ledger;
use aigcq::store::Store;
use common::meta_for;

const CHAPTERS: usize = 4;
const GAPS: usize = 15;

fn aigcq() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("aigcq"));
    c.env("NO_COLOR", "1").stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from).into_iter().flatten() {
        let target = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn sigkill_during_accept_all_never_leaves_a_mix() {
    // The template project: four chapters, a draft for each of their gaps.
    let template = tempfile::tempdir().unwrap();
    let t = template.path();
    std::fs::create_dir_all(t.join("content")).unwrap();
    std::fs::write(t.join("aigcq.toml"), "").unwrap();
    let store = Store::new(t.join("drafts"));
    for c in 0..CHAPTERS {
        let name = format!("ch{c}.md");
        let text = common::chapter_with_gaps(GAPS);
        std::fs::write(t.join("content").join(&name), &text).unwrap();
        for i in 2..GAPS + 2 {
            store
                .save(
                    &meta_for(&name, &text, i),
                    &format!("第 {c} 章第 {i} 题：一个写得足够长、算作真正回答的答案。\n"),
                )
                .unwrap();
        }
    }
    let ids: Vec<(String, String)> = store.pending().0.into_iter().map(|d| (d.id, d.meta.chapter)).collect();
    assert_eq!(ids.len(), CHAPTERS * GAPS);

    // The intended result, and how long a whole run takes.
    let done = tempfile::tempdir().unwrap();
    copy_tree(t, done.path());
    let start = Instant::now();
    assert!(
        aigcq()
            .args(["review", "--accept-all"])
            .current_dir(done.path())
            .status()
            .unwrap()
            .success()
    );
    let full = start.elapsed();
    let new: Vec<Vec<u8>> = (0..CHAPTERS)
        .map(|c| read(&done.path().join(format!("content/ch{c}.md"))))
        .collect();
    let old: Vec<Vec<u8>> = (0..CHAPTERS)
        .map(|c| read(&t.join(format!("content/ch{c}.md"))))
        .collect();
    assert!(new.iter().zip(&old).all(|(n, o)| n != o));

    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut outcomes = HashSet::new();
    for _ in 0..100 {
        let run = tempfile::tempdir().unwrap();
        let r = run.path();
        copy_tree(t, r);
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((seed >> 33) % (full.as_micros() as u64 * 3 / 2 + 1));
        let mut child = aigcq().args(["review", "--accept-all"]).current_dir(r).spawn().unwrap();
        std::thread::sleep(delay);
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();

        let mut state = Vec::new();
        for c in 0..CHAPTERS {
            let now = read(&r.join(format!("content/ch{c}.md")));
            assert!(
                now == old[c] || now == new[c],
                "ch{c}.md is neither old nor new after a kill at {delay:?}"
            );
            state.push(now == new[c]);
        }
        // As the tool reads it: a last line the kill tore is no decision.
        let ledger: HashSet<String> = ledger::read(&r.join("drafts"))
            .expect("every line whole but a torn last one")
            .into_iter()
            .map(|e| {
                assert_eq!(e.decision, ledger::Decision::Accepted);
                e.draft
            })
            .collect();
        for (id, chapter) in &ids {
            let pending = r.join(format!("drafts/{id}.md")).exists();
            let c: usize = chapter[2..chapter.len() - 3].parse().unwrap();
            if !pending {
                assert!(ledger.contains(id), "{id} left the pending set without a ledger entry");
                assert!(state[c], "{id} is gone but its chapter is the old one");
            }
            if ledger.contains(id) {
                assert!(state[c], "{id} is in the ledger but its chapter is the old one");
            }
        }
        outcomes.insert(state);
        // What a killed run left, the next run finishes.
        assert!(
            aigcq()
                .args(["review", "--accept-all"])
                .current_dir(r)
                .status()
                .unwrap()
                .success()
        );
        for (c, expected) in new.iter().enumerate() {
            assert_eq!(&read(&r.join(format!("content/ch{c}.md"))), expected);
        }
        assert!(Store::new(r.join("drafts")).pending().0.is_empty());
        // Exactly one whole ledger line per decision, also across the kill and the recovery.
        let mut lines: Vec<String> = std::fs::read_to_string(r.join("drafts/ledger.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["draft"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        lines.sort();
        let n = lines.len();
        lines.dedup();
        assert_eq!(
            (n, lines.len()),
            (ids.len(), ids.len()),
            "one line per draft after a kill at {delay:?}"
        );
    }
    assert!(
        outcomes.len() > 1,
        "the kills all landed at the same point: {outcomes:?}"
    );
}
