//! Stage 1, `aigcq gaps`: the unanswered questions of each chapter, as records for printing.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::chapter::{Chapter, GapKind, HeadingStyle};
use crate::identity;

/// One unanswered question, as `aigcq gaps --json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GapRecord {
    /// The chapter's path as given, or relative to the current directory.
    pub file: String,
    /// Stable id: the chapter's path below the content root, `#`, the anchor.
    pub id: String,
    /// The question's anchor.
    pub anchor: String,
    /// 1-based number of the question in its chapter.
    pub index: usize,
    /// 1-based line.
    pub line: usize,
    /// Heading level 1–6; 0 for a `missing` entry, which has no heading.
    pub level: u8,
    /// Why the answer counts as missing.
    pub kind: GapKind,
    /// The question's text.
    pub question: String,
    /// The id of an answered question elsewhere in the book that asks the same
    /// ([`answered_elsewhere`]); only present when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_in: Option<String>,
}

/// The gaps of one chapter and how many questions it has.
#[derive(Debug, Clone, Serialize)]
pub struct ChapterGaps {
    /// The chapter, as shown to the user.
    pub file: String,
    /// Questions that want an answer: every question but group headings, plus missing entries.
    pub questions: usize,
    /// Counted before any `--kind` filter narrows `gaps`.
    pub answered: usize,
    /// Its gaps, in order.
    pub gaps: Vec<GapRecord>,
}

static LIST_ITEM_HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^ {0,3}(?:\d{1,9}[.)]|[-*+]) +#{1,6} ").expect("valid"));

/// When a chapter has no question at all although it looks like a question bank (headings
/// below its title, headings inside list items, `<summary>` blocks): what was seen, for a
/// warning, so that "0 of 0 questions" is never silent.
pub fn unrecognised(chapter: &Chapter) -> Option<String> {
    if !chapter.questions.is_empty() {
        return None;
    }
    let text = crate::chapter::html::outside_code(chapter.text());
    let in_lists = LIST_ITEM_HEADING.find_iter(&text).count();
    let summaries = text.to_ascii_lowercase().matches("<summary").count();
    // Headings of the outline; list-item headings and summaries are counted apart.
    let headings = chapter
        .headings
        .iter()
        .filter(|h| h.level > 1 && h.style != HeadingStyle::Summary && h.item_indent.is_none())
        .count();
    if in_lists == 0 && summaries == 0 && headings < 2 {
        return None;
    }
    let seen: Vec<String> = [
        (headings, "heading"),
        (in_lists, "heading inside a list item"),
        (summaries, "<summary> block"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| match n {
        1 => format!("1 {what}"),
        n if what.starts_with("heading inside") => format!("{n} headings inside list items"),
        n => format!("{n} {what}s"),
    })
    .collect();
    Some(format!(
        "no question recognised among {}; see [questions] in aigcq.toml for the patterns a question must match",
        seen.join(", ")
    ))
}

/// The gaps of a parsed chapter. `file` is how the path is shown, `name` its stable name.
pub fn chapter_gaps(chapter: &Chapter, file: &str, name: &str) -> ChapterGaps {
    let gaps: Vec<GapRecord> = chapter
        .gaps()
        .map(|g| GapRecord {
            file: file.to_owned(),
            id: identity::question_id(name, g.anchor),
            anchor: g.anchor.to_owned(),
            index: g.index,
            line: g.line,
            level: g.level,
            kind: g.kind,
            question: g.text.to_owned(),
            answered_in: None,
        })
        .collect();
    let missing = gaps.iter().filter(|g| g.kind == GapKind::Missing).count();
    let questions = chapter.questions.iter().filter(|q| !q.group).count() + missing;
    ChapterGaps {
        file: file.to_owned(),
        questions,
        answered: questions - gaps.len(),
        gaps,
    }
}

/// A chapter's questions as [`answered_elsewhere`] compares them, by
/// [`crate::check::question_key`]: small enough to keep for every chapter of a large scan.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// Its gaps that ask by their text (a number, a question mark, a task word): each key
    /// and anchor. Repeated structure (`附录 术语表`) is never a gap answered elsewhere.
    asking: Vec<(String, String)>,
    /// Its answered questions: each key (a range of `answered_keys`) and place in the
    /// chapter's `questions`. Anchors cost a slug each, and only the few twins need theirs.
    answered: Vec<(std::ops::Range<usize>, usize)>,
    /// The keys of its answered questions, one after the other: one allocation a chapter.
    answered_keys: String,
}

impl Keys {
    /// The keys of `chapter`'s questions.
    pub fn of(chapter: &Chapter, rules: &crate::chapter::Rules) -> Keys {
        let stem = |q: &crate::chapter::Question| q.stem.clone().map_or("", |r| &chapter.text()[r]);
        let mut keys = Keys::default();
        for (i, q) in chapter.questions.iter().enumerate().filter(|(_, q)| !q.group) {
            let text = &chapter.heading(q).text;
            if q.gap.is_none() {
                let start = keys.answered_keys.len();
                crate::check::question_key_into(text, stem(q), &mut keys.answered_keys);
                keys.answered.push((start..keys.answered_keys.len(), i));
            } else if crate::chapter::asks_or_sets_task(text, rules) {
                let key = crate::check::question_key(text, stem(q));
                keys.asking.push((key, chapter.heading(q).anchor().to_owned()));
            }
        }
        keys
    }
}

/// An answered question that a gap asks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Twin {
    /// Its chapter: the place of its [`Keys`] in the list given.
    pub chapter: usize,
    /// Its place in that chapter's `questions`.
    pub question: usize,
}

/// Each gap of `chapters` (their [`Keys`]) that an answered question of them asks too, by
/// `check`'s duplicate-question rule at `similarity`: the gap's chapter and anchor, and the
/// answered twin.
pub fn answered_elsewhere(chapters: &[Keys], similarity: f64) -> Vec<(usize, &str, Twin)> {
    let gaps: Vec<(usize, &(String, String))> = chapters
        .iter()
        .enumerate()
        .flat_map(|(c, k)| k.asking.iter().map(move |a| (c, a)))
        .collect();
    if gaps.is_empty() {
        return Vec::new();
    }
    let answers: Vec<Twin> = chapters
        .iter()
        .enumerate()
        .flat_map(|(c, k)| {
            k.answered
                .iter()
                .map(move |&(_, question)| Twin { chapter: c, question })
        })
        .collect();
    let answer_keys: Vec<&str> = chapters
        .iter()
        .flat_map(|k| k.answered.iter().map(|(key, _)| &k.answered_keys[key.clone()]))
        .collect();
    let gap_keys: Vec<&String> = gaps.iter().map(|(_, (key, _))| key).collect();
    crate::check::answered_elsewhere(&gap_keys, &answer_keys, similarity)
        .into_iter()
        .map(|(g, a)| (gaps[g].0, gaps[g].1.1.as_str(), answers[a]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapter::{QuestionConfig, Rules};

    #[test]
    fn a_bank_with_no_question_recognised_says_what_was_seen() {
        let rules = Rules::new(&QuestionConfig::default()).unwrap();
        let said = |text: &str| unrecognised(&Chapter::parse(text, &rules));
        // Headings that ask nothing by the default patterns.
        let list = "# Bank\n\n1.  ### React\n\n    React is a library.\n\n2.  ### JSX\n\n    A syntax.\n";
        let w = said(list).expect("a warning");
        assert!(w.contains("among 2 headings inside list items;"), "{w}");
        let details = "# Bank\n\n<details><summary><b>Shell</b></summary>\n\nA program.\n</details>\n";
        assert!(said(details).expect("a warning").contains("among 1 <summary> block;"));
        assert_eq!(said("# Notes\n\nJust text.\n"), None, "not a question bank");
        assert_eq!(said("## 1、什么是 DiT？\n\n答案。\n"), None, "questions were found");
        let code = "# Bank\n\n```md\n1. ### not seen\n<summary>no</summary>\n```\n";
        assert_eq!(said(code), None, "markup in code is not counted");
    }
}
