//! `check`'s `duplicate-question` on real chapters of the book (issue 25, item 3): questions
//! planted in one chapter that repeat another chapter's (renumbered, punctuation and width
//! changed; one character changed) are reported, naming the first; one that only shares the
//! topic is not, and nothing else is added to what check says of the chapters.

mod common;

use aigcq::chapter::{Chapter, QuestionConfig, Rules};
use serde_json::Value;

fn duplicate_findings(dir: &std::path::Path) -> Vec<Value> {
    let out = common::aigcq_at(dir, "http://127.0.0.1:9")
        .args(["check", "--json"])
        .output()
        .unwrap();
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    all.into_iter().filter(|f| f["rule"] == "duplicate-question").collect()
}

#[test]
fn planted_repeats_across_real_chapters_are_reported_and_a_shared_topic_is_not() {
    let Some(corpus) = common::corpus() else { return };
    let files = common::chapters_below(&corpus);
    let dir = common::project("", "");
    std::fs::remove_file(dir.path().join("content/ch.md")).unwrap();
    let names: Vec<String> = files[..5]
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = format!("c{i}.md");
            std::fs::copy(f, dir.path().join("content").join(&name)).unwrap();
            name
        })
        .collect();
    let before = duplicate_findings(dir.path());

    // A question of one chapter, long and Chinese enough to change a character of.
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let (a, line, core) = names
        .iter()
        .enumerate()
        .find_map(|(a, name)| {
            let text = std::fs::read_to_string(dir.path().join("content").join(name)).unwrap();
            let chapter = Chapter::parse(&text, &rules);
            chapter
                .questions
                .iter()
                .filter(|q| !q.group)
                .map(|q| {
                    let t = &chapter.heading(q).text;
                    let core = t.trim_start_matches(|c: char| c.is_ascii_digit() || ".、 ".contains(c));
                    (a, chapter.heading(q).line, core.to_owned())
                })
                .find(|(_, _, core)| core.chars().filter(|c| *c > '\u{2E80}').count() >= 12)
        })
        .expect("a question to repeat");
    let names = [names[a].clone(), names[(a + 1) % names.len()].clone()];
    let body = core.trim_end_matches(['?', '？']);
    let chars: Vec<char> = body.chars().collect();
    let at = (chars.len() / 2..chars.len()).find(|&i| chars[i] > '\u{2E80}').unwrap();
    let mut changed = chars.clone();
    changed[at] = if changed[at] == '甲' { '乙' } else { '甲' };
    let changed: String = changed.into_iter().collect();
    let wide = body.replace('，', ",").replace(',', "，");
    let topic: String = chars[..4].iter().collect();
    let planted = format!(
        "\n\n## 97．{wide}?\n\n已有答案。\n\n## 98．{changed}？\n\n已有答案。\n\n## 99．关于{topic}，工程上最常踩的坑有哪些，又该如何一一规避？\n\n已有答案。\n"
    );
    let second = dir.path().join("content").join(&names[1]);
    let text = std::fs::read_to_string(&second).unwrap() + &planted;
    std::fs::write(&second, &text).unwrap();
    let lines = text.lines().count();

    let after = duplicate_findings(dir.path());
    let new: Vec<&Value> = after.iter().filter(|f| !before.contains(f)).collect();
    assert_eq!(new.len(), 2, "{new:#?}");
    let want_first = format!("content/{}:{line}", names[0]);
    for (f, (at, how)) in new.iter().zip([
        (lines - 10, "same question as"),
        (lines - 6, "nearly the same question"),
    ]) {
        assert_eq!(f["file"], format!("content/{}", names[1]));
        assert_eq!(f["line"].as_u64(), Some(at as u64), "{f}");
        let message = f["message"].as_str().unwrap();
        assert!(message.starts_with(how) && message.contains(&want_first), "{message}");
    }
}
