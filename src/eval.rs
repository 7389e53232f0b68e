//! `aigcq eval`: how well a model and a template answer this book, measured on questions the
//! book has answered already. A sample of answered questions is held out: each is drafted from
//! its chapter with its own answer blanked (so the answer is in no example, neighbour or
//! `existing`), and the judge grades each draft against the book's answer. Nothing here writes
//! a chapter; the app keeps the drafts in a scratch folder.

use std::ops::Range;

use serde::Serialize;

use crate::chapter::{Chapter, Rules};
use crate::identity::short_hash;

/// An answered question held out of its chapter.
#[derive(Debug, Clone)]
pub struct Held {
    /// Its chapter's name below the content folder.
    pub chapter: String,
    /// Its number in the chapter.
    pub index: usize,
    /// The question's heading text.
    pub question: String,
    /// The book's answer, the reference a draft is graded against.
    pub answer: String,
    /// The chapter with that answer removed: the question is a gap there.
    pub blanked: String,
}

/// `n` answered questions of `chapters` (name and text), spread over the chapters: each
/// chapter's questions in an order fixed by `seed`, taken one chapter after another in turn,
/// so that a sample of 20 from 200 chapters is 20 chapters, not one. `keep` (chapter name,
/// question number) narrows which questions may be taken.
pub fn sample(
    chapters: &[(String, String)],
    rules: &Rules,
    (n, seed): (usize, u64),
    keep: impl Fn(&str, usize) -> bool,
) -> Vec<Held> {
    let order = |parts: &[&[u8]]| short_hash(&[&seed.to_le_bytes(), parts.concat().as_slice()], 16);
    let mut per_chapter: Vec<(String, Vec<Held>)> = chapters
        .iter()
        .map(|(name, text)| {
            let chapter = Chapter::parse(text, rules);
            let mut held: Vec<(String, Held)> = chapter
                .questions
                .iter()
                .filter(|q| q.gap.is_none() && !q.group && !chapter.answer_body(q).trim().is_empty())
                .filter(|q| keep(name, q.index))
                .map(|q| {
                    let range: Range<usize> = q.answer.clone();
                    let held = Held {
                        chapter: name.clone(),
                        index: q.index,
                        question: chapter.heading(q).text.clone(),
                        answer: chapter.answer_body(q).trim().to_owned(),
                        blanked: format!("{}\n{}", &text[..range.start], &text[range.end..]),
                    };
                    (order(&[name.as_bytes(), &q.index.to_le_bytes()]), held)
                })
                .collect();
            held.sort_by(|a, b| a.0.cmp(&b.0));
            (order(&[name.as_bytes()]), held.into_iter().map(|(_, h)| h).collect())
        })
        .collect();
    per_chapter.sort_by(|a, b| a.0.cmp(&b.0));
    let mut queues: Vec<std::vec::IntoIter<Held>> = per_chapter.into_iter().map(|(_, h)| h.into_iter()).collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let before = out.len();
        for q in &mut queues {
            if out.len() == n {
                break;
            }
            out.extend(q.next());
        }
        if out.len() == before {
            break;
        }
    }
    out
}

/// One graded draft.
#[derive(Debug, Clone, Serialize)]
pub struct Graded {
    /// The held-out question (`chapter#index`).
    pub question: String,
    /// The judge's score against the book's answer, if it gave a valid one.
    pub score: Option<u8>,
    /// Its reasons, or why there is no score.
    pub reasons: String,
    /// The gate's warning codes on the draft.
    pub warnings: Vec<String>,
    /// `--pairwise`: against the book's answer, asked in both orders: 1 the draft won, 0 a
    /// tie, -1 the book's answer won.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairwise: Option<i8>,
}

/// The result of asking in both orders which answer is better, each as `Some(true)` when the
/// draft won, `Some(false)` when the book's answer did, `None` for a tie: a win needs the
/// draft ahead on balance, so a judge that prefers whatever comes first cancels out.
pub fn both_orders(first: Option<bool>, second: Option<bool>) -> i8 {
    let point = |p: Option<bool>| -> i8 {
        match p {
            Some(true) => 1,
            Some(false) => -1,
            None => 0,
        }
    };
    (point(first) + point(second)).signum()
}

/// How one model with one template did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The model.
    pub model: String,
    /// The template's name.
    pub template: String,
    /// Questions asked.
    pub questions: usize,
    /// Drafts the judge scored.
    pub judged: usize,
    /// Their mean score.
    pub mean_score: Option<f64>,
    /// Gate warnings per draft.
    pub warnings_per_draft: f64,
    /// `--pairwise`: drafts that won, tied and lost against the book's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairwise: Option<[usize; 3]>,
    /// Prompt and completion tokens of the drafting requests.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Seconds the drafting took.
    pub seconds: f64,
    /// What the drafting requests cost, by `[prices]` (none without the model's prices).
    pub cost: Option<f64>,
    /// The currency of `cost`.
    pub currency: Option<String>,
    /// Every draft's grade.
    pub drafts: Vec<Graded>,
}

impl Outcome {
    /// The figures of `drafts`.
    pub fn new(model: &str, template: &str, questions: usize, drafts: Vec<Graded>) -> Outcome {
        let scores: Vec<f64> = drafts.iter().filter_map(|d| d.score).map(f64::from).collect();
        let warnings: usize = drafts.iter().map(|d| d.warnings.len()).sum();
        let duels: Vec<i8> = drafts.iter().filter_map(|d| d.pairwise).collect();
        let count = |r: i8| duels.iter().filter(|&&d| d == r).count();
        Outcome {
            model: model.to_owned(),
            template: template.to_owned(),
            questions,
            judged: scores.len(),
            mean_score: (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64),
            warnings_per_draft: if drafts.is_empty() {
                0.0
            } else {
                warnings as f64 / drafts.len() as f64
            },
            pairwise: (!duels.is_empty()).then(|| [count(1), count(0), count(-1)]),
            prompt_tokens: 0,
            completion_tokens: 0,
            seconds: 0.0,
            cost: None,
            currency: None,
            drafts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_spreads_over_chapters_and_blanks_each_answer() {
        let rules = Rules::default();
        let chapter = |t: &str| {
            format!(
                "# {t}\n\n## 1. {t}一？\n\n{t}的第一个答案写得足够长。\n\n## 2. {t}二？\n\n{t}的第二个答案写得足够长。\n"
            )
        };
        let chapters: Vec<(String, String)> = ["甲", "乙", "丙"]
            .iter()
            .map(|t| (format!("{t}.md"), chapter(t)))
            .collect();
        let held = sample(&chapters, &rules, (3, 7), |_, _| true);
        let mut names: Vec<&str> = held.iter().map(|h| h.chapter.as_str()).collect();
        names.sort();
        assert_eq!(names, ["丙.md", "乙.md", "甲.md"], "one from each chapter");
        for h in &held {
            assert!(!h.blanked.contains(&h.answer), "{}", h.blanked);
            let parsed = Chapter::parse(&h.blanked, &rules);
            let gaps: Vec<usize> = parsed.gaps().map(|g| g.index).collect();
            assert_eq!(gaps, [h.index], "only the held-out question is a gap");
        }
        // The same seed, the same sample; all of it when asked for more than there is.
        let again: Vec<(String, usize)> = (sample(&chapters, &rules, (3, 7), |_, _| true).into_iter())
            .map(|h| (h.chapter, h.index))
            .collect();
        assert_eq!(
            again,
            held.iter().map(|h| (h.chapter.clone(), h.index)).collect::<Vec<_>>()
        );
        assert_eq!(sample(&chapters, &rules, (100, 7), |_, _| true).len(), 6);
        assert!(sample(&chapters, &rules, (100, 7), |c, i| c == "乙.md" && i == 2).len() == 1);
    }

    #[test]
    fn a_judge_that_prefers_the_first_answer_gives_ties() {
        assert_eq!(both_orders(Some(true), Some(true)), 1);
        assert_eq!(both_orders(Some(true), None), 1);
        // Position bias: A won both times, so each answer won once.
        assert_eq!(both_orders(Some(true), Some(false)), 0);
        assert_eq!(both_orders(None, Some(false)), -1);
    }
}
