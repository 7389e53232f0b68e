//! Issue 23, item 1: every chapter of the real book takes merges. In each chapter of
//! `../shared/corpus/`, two answered questions (picked by a seed from the chapter's name) are
//! blanked, their original answers saved as drafts (as `draft` saves them, without the reply
//! clean-up, which this test does not judge) and accepted; the chapter must then be the
//! original again, blank lines aside. One chapter of
//! the book repeats its first question's heading (the same id twice), which made every merge
//! into it refuse ("it would change the answer of question(s) 1").

mod common;

use std::collections::HashMap;

use aigcq::chapter::{Chapter, QuestionConfig, Rules};

/// Without blank lines and trailing spaces: a merge normalises the blank lines around an
/// answer, and nothing else.
fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect()
}

/// A small deterministic generator (the seed is the chapter's name), so a failure names the
/// questions it picked and reproduces.
fn pick(name: &str, n: usize) -> [usize; 2] {
    let mut x = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let a = next();
    let mut b = next();
    if n > 1 {
        while b == a {
            b = next();
        }
    }
    [a, b]
}

#[test]
fn every_corpus_chapter_takes_merges_of_its_own_answers() {
    let Some(root) = common::corpus() else { return };
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let files = common::chapters_below(&root);
    let mut failures = Vec::new();
    let mut tried = 0;
    for file in files {
        let original = std::fs::read_to_string(&file).unwrap();
        let chapter = Chapter::parse(&original, &rules);
        // Answered questions of their own section whose answer is prose the clean-up keeps
        // as it is (no heading of its own, which a draft's clean-up would re-level).
        let candidates: Vec<usize> = chapter
            .questions
            .iter()
            .enumerate()
            .filter(|(_, q)| q.gap.is_none() && !q.group && q.holder == aigcq::chapter::Holder::Section)
            .filter(|(_, q)| {
                let a = chapter.answer(q);
                a.trim().chars().count() >= 20
                    && !a.lines().any(|l| l.trim_start().starts_with('#') || l.contains("<h"))
            })
            .map(|(i, _)| i)
            .collect();
        if candidates.len() < 2 {
            continue;
        }
        let name = file.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        // Two questions that read as gaps once blanked (a statement heading with no answer is
        // no question), the first pair of the seeded sequence that does.
        let blank = |chosen: &[usize]| {
            let mut blanked = original.clone();
            let mut spans: Vec<_> = chosen.iter().map(|&i| chapter.questions[i].answer.clone()).collect();
            spans.sort_by_key(|r| std::cmp::Reverse(r.start));
            for r in spans {
                blanked.replace_range(r, "\n\n");
            }
            blanked
        };
        let texts = |chosen: &[usize]| -> Vec<String> {
            chosen
                .iter()
                .map(|&i| chapter.heading(&chapter.questions[i]).text.clone())
                .collect()
        };
        let found = (0..16).find_map(|round| {
            let chosen: Vec<usize> = pick(&format!("{name}{round}"), candidates.len())
                .iter()
                .map(|&i| candidates[i])
                .collect();
            let blanked = blank(&chosen);
            let gaps = common::metas_for("ch.md", &blanked);
            texts(&chosen)
                .iter()
                .all(|q| gaps.iter().any(|m| &m.question == q))
                .then_some((chosen, blanked))
        });
        let Some((chosen, blanked)) = found else { continue };
        tried += 1;
        let answers: HashMap<String, String> = chosen
            .iter()
            .map(|&i| {
                let q = &chapter.questions[i];
                (chapter.heading(q).text.clone(), chapter.answer(q).trim().to_owned())
            })
            .collect();
        let dir = common::project(&blanked, "");
        let run = |args: &[&str]| {
            let out = common::aigcq_at(dir.path(), "http://127.0.0.1:9/v1")
                .args(args)
                .output()
                .unwrap();
            (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
        };
        let questions: Vec<String> = chosen
            .iter()
            .map(|&i| chapter.heading(&chapter.questions[i]).text.clone())
            .collect();
        // The drafts as `draft` saves them, their bodies the original answers.
        let store = aigcq::store::Store::new(dir.path().join("drafts"));
        let metas = common::metas_for("ch.md", &blanked);
        for q in &questions {
            let Some(meta) = metas.iter().find(|m| &m.question == q) else {
                failures.push(format!("{name}: {q:?} is no gap once blanked"));
                continue;
            };
            store.save(meta, &format!("{}\n", answers[q])).unwrap();
        }
        let (ok, err) = run(&["review", "--accept-all"]);
        let merged = std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap();
        if !ok || lines(&merged) != lines(&original) {
            let first = lines(&merged)
                .iter()
                .zip(lines(&original))
                .position(|(a, b)| *a != b)
                .map(|i| format!("first difference at non-blank line {}", i + 1))
                .unwrap_or_default();
            failures.push(format!("{name}: {questions:?}: {first}; {err}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} chapters:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tried >= 20, "only {tried} chapters had two answers to blank");
    eprintln!("{tried} chapters took back two answers each");
}
