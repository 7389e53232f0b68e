//! Prompt templates (minijinja): what the model is told for each gap. Building the context is
//! pure; only [`Templates::load`] reads files.
//!
//! A template defines its messages as blocks: `{% block system %}` (optional) and
//! `{% block user %}`. Everything outside the blocks is ignored, so a template can hold
//! comments and `{% set %}` helpers freely.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use minijinja::value::{Serde, Value};
use minijinja::{Environment, syntax::SyntaxConfig};
use serde::Serialize;

use crate::chapter::{Chapter, Gap, GapKind, Rules};
use crate::llm::Messages;
use crate::text::language;

/// The template used when the prompts folder has none of that name: for any bank, with no
/// subject of its own, in the chapter's language. (This repository's `prompts/` holds the
/// bundled book's own, AIGC-specific template.)
pub const BUILTIN_DEFAULT: &str = include_str!("templates/default.jinja");
/// The judge's rubric (`aigcq judge`), used when the prompts folder has no `judge.jinja`.
pub const BUILTIN_JUDGE: &str = include_str!("templates/judge.jinja");

/// Which of two answers is better (`aigcq eval --pairwise`), used when the prompts folder has
/// no `pairwise.jinja`.
pub const BUILTIN_PAIRWISE: &str = include_str!("templates/pairwise.jinja");

/// The built-in template of that name.
fn builtin(name: &str) -> Option<&'static str> {
    match name {
        "default" => Some(BUILTIN_DEFAULT),
        "judge" => Some(BUILTIN_JUDGE),
        "pairwise" => Some(BUILTIN_PAIRWISE),
        _ => None,
    }
}
/// The extension of template files in the prompts folder.
pub const EXTENSION: &str = "jinja";
/// House rules, passed to templates as `style` when the file exists.
pub const STYLE_FILE: &str = "style.md";

/// Everything a template can use. Documented field by field in the README.
#[derive(Debug, Clone, Serialize)]
pub struct PromptContext<'a> {
    /// The question to answer.
    pub question: QuestionContext,
    /// Its chapter.
    pub chapter: &'a ChapterContext,
    /// Answered questions nearest before and after, in chapter order, other than the
    /// chapter's fixed `chapter.examples`.
    pub examples: Vec<Example>,
    /// `zh` when at least a fifth of the chapter's letters are CJK, else `en`.
    pub language: &'static str,
    /// The contents of `prompts/style.md`, if any.
    pub style: Option<&'a str>,
    /// The book's terms (`prompts/glossary.toml`): `use`, `avoid`, `note`.
    pub glossary: &'a [crate::glossary::Term],
    /// `YYYY-MM-DD`, local time.
    pub today: &'a str,
    /// The question's reference material (`refs/`, `--ref`), cut to `[draft] ref_chars`.
    pub references: &'a [crate::refs::Reference],
    /// The book's answers to the questions most related to this one, other chapters first,
    /// cut to `[draft] related_chars`.
    pub related: Vec<Related>,
}

/// An answered question elsewhere in the book, related to the one asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Related {
    /// Its chapter's path below the content folder.
    pub chapter: String,
    /// Its heading's anchor.
    pub anchor: String,
    /// A Markdown link target to it from the asking chapter (`../other.md#anchor`).
    pub link: String,
    /// Its text.
    pub question: String,
    /// Its answer, cut to fit.
    pub answer: String,
    /// True when the answer was cut to fit.
    pub truncated: bool,
    /// How closely it matches (BM25), for comparing within one question only.
    pub score: f32,
}

/// Most related answers one prompt shows.
const RELATED_MAX: usize = 3;
/// A related answer scoring less than this share of the best one is left out: it shares a
/// word or two with the question, not its subject.
const RELATED_FLOOR: f32 = 0.5;

#[derive(Debug, Clone, Serialize)]
/// The question as a template sees it.
pub struct QuestionContext {
    /// The question's text.
    pub text: String,
    /// Its id.
    pub id: String,
    /// Its anchor.
    pub anchor: String,
    /// Its number in the chapter.
    pub index: usize,
    /// The heading level the answer sits under (for a `missing` entry: its neighbours').
    pub level: u8,
    /// Why it counts as missing.
    pub kind: GapKind,
    /// What is under the heading now, for `stub` and `outline` gaps.
    pub existing: Option<String>,
    /// For an `outline`: the sub-questions the answer must cover one by one.
    pub sub_questions: Vec<String>,
    /// A new version of an answered question is asked for (`draft --rewrite`); `existing`
    /// holds the current answer.
    pub rewrite: bool,
    /// What belongs to the question between its heading and its answer block: the code and
    /// the options of a quiz (`lydiahallie/javascript-questions`).
    pub stem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
/// The chapter as a template sees it.
pub struct ChapterContext {
    /// Its title.
    pub title: String,
    /// Its path below the content folder.
    pub path: String,
    /// Its table of contents.
    pub toc: Vec<TocItem>,
    /// The chapter's best style examples, the same for every question of the chapter so that
    /// its prompts share a long prefix a provider can cache.
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Serialize)]
/// One entry of the table of contents.
pub struct TocItem {
    /// The entry's text.
    pub text: String,
    /// Its anchor.
    pub anchor: String,
}

#[derive(Debug, Clone, Serialize)]
/// An answered question shown to the model as an example of the book's style.
pub struct Example {
    /// Its number in the chapter.
    pub index: usize,
    /// The question's text.
    pub question: String,
    /// Its answer, cut to fit.
    pub answer: String,
    /// True when the answer was cut to fit the character budget.
    pub truncated: bool,
}

/// The level of the heading an answer goes under: the question's, or for a `missing` entry
/// the level its neighbouring questions use (2 when the chapter has none).
pub fn answer_level(chapter: &Chapter, gap: &Gap) -> u8 {
    match gap.question {
        Some(_) => gap.level,
        None => chapter
            .questions
            .iter()
            .rev()
            .find(|q| !q.group)
            .map_or(2, |q| chapter.heading(q).level),
    }
}

/// Cuts `s` to at most `budget` characters, at a line end when there is one.
fn cut(s: &str, budget: usize) -> &str {
    let end = s.char_indices().nth(budget).map_or(s.len(), |(i, _)| i);
    let head = &s[..end];
    match head.rfind('\n') {
        Some(nl) if end < s.len() && nl > 0 => &head[..nl],
        _ => head,
    }
}

/// What the prompts of one chapter share, worked out once per chapter rather than per gap,
/// so that drafting many gaps of a long chapter stays linear.
pub struct ChapterFacts<'c> {
    /// The parsed chapter.
    pub chapter: &'c Chapter<'c>,
    /// The chapter's path below the content root.
    pub name: &'c str,
    context: ChapterContext,
    /// `context` with the chapter's style examples, chosen on first use.
    shared: std::sync::OnceLock<(ChapterContext, std::collections::HashSet<usize>)>,
    language: &'static str,
    /// Indices into `chapter.questions` of the answered questions, in order.
    answered: Vec<usize>,
    /// Every heading's anchor: an answer must not define one again.
    pub anchors: std::collections::HashSet<&'c str>,
    /// Worked out on first use, once per chapter.
    median_chars: std::sync::OnceLock<Option<usize>>,
    question_keys: std::sync::OnceLock<Vec<(usize, String, String)>>,
    question_terms: std::sync::OnceLock<std::collections::HashMap<String, (Vec<usize>, usize)>>,
    question_finder: std::sync::OnceLock<Option<(aho_corasick::AhoCorasick, Vec<usize>)>>,
    toc_keys: std::sync::OnceLock<std::collections::HashSet<String>>,
}

impl<'c> ChapterFacts<'c> {
    /// What the prompts of `chapter` (at `name` below the content folder) share.
    pub fn new(chapter: &'c Chapter<'c>, name: &'c str) -> ChapterFacts<'c> {
        let stem = Path::new(name)
            .file_stem()
            .map_or_else(|| name.to_owned(), |s| s.to_string_lossy().into_owned());
        ChapterFacts {
            chapter,
            name,
            context: ChapterContext {
                title: chapter.title().map_or(stem, str::to_owned),
                path: name.to_owned(),
                toc: chapter
                    .toc
                    .iter()
                    .map(|t| TocItem {
                        text: t.text.clone(),
                        anchor: t.anchor.clone(),
                    })
                    .collect(),
                examples: Vec::new(),
            },
            shared: std::sync::OnceLock::new(),
            language: language(chapter.text()),
            anchors: chapter.headings.iter().map(|h| h.anchor()).collect(),
            answered: (0..chapter.questions.len())
                .filter(|&i| !chapter.questions[i].group && chapter.questions[i].gap.is_none())
                .collect(),
            median_chars: std::sync::OnceLock::new(),
            question_keys: std::sync::OnceLock::new(),
            question_terms: std::sync::OnceLock::new(),
            question_finder: std::sync::OnceLock::new(),
            toc_keys: std::sync::OnceLock::new(),
        }
    }

    /// `zh` or `en`: the chapter's language.
    pub fn language(&self) -> &'static str {
        self.language
    }

    /// [`crate::chapter::near_key`]s of the chapter's table-of-contents entries (those of
    /// four characters or more), worked out once per chapter.
    pub fn toc_keys(&self) -> &std::collections::HashSet<String> {
        self.toc_keys.get_or_init(|| {
            self.context
                .toc
                .iter()
                .map(|t| crate::chapter::near_key(&t.text))
                .filter(|k| k.chars().count() >= 4)
                .collect()
        })
    }

    /// The median length (visible characters) of the chapter's answers, when it has at least
    /// `min` answered questions.
    pub fn median_answer_chars(&self, min: usize) -> Option<usize> {
        *self.median_chars.get_or_init(|| {
            let mut lens: Vec<usize> = self
                .answered
                .iter()
                .map(|&i| crate::text::visible_chars(&self.chapter.answer_body(&self.chapter.questions[i])))
                .collect();
            lens.sort_unstable();
            lens.get(lens.len() / 2).copied().filter(|_| lens.len() >= min)
        })
    }

    /// The 25th and 75th percentiles of the estimated tokens of the chapter's answers, when
    /// it has any: the dry run's range for an answer.
    pub fn answer_tokens(&self) -> Option<(u64, u64)> {
        let mut t: Vec<u64> = self
            .answered
            .iter()
            .map(|&i| crate::llm::tokens::estimate(self.chapter.answer_body(&self.chapter.questions[i]).trim()))
            .collect();
        t.sort_unstable();
        (!t.is_empty()).then(|| (t[t.len() / 4], t[(t.len() * 3 / 4).min(t.len() - 1)]))
    }

    /// Each question's index, heading text and [`crate::chapter::near_key`] of it.
    pub fn question_keys(&self) -> &[(usize, String, String)] {
        self.question_keys.get_or_init(|| {
            let c = self.chapter;
            c.questions
                .iter()
                .map(|q| {
                    let text = c.heading(q).text.clone();
                    (q.index, crate::chapter::near_key(&text), text)
                })
                .collect()
        })
    }

    /// Each key term ([`crate::text::key_terms`]) of the chapter's questions, with the
    /// questions that have it (in chapter order) and how many of the chapter's answers use it:
    /// a term many answers use (`token` in a chapter on multimodal models) is the chapter's
    /// vocabulary, no question's own subject.
    pub fn question_terms(&self) -> &std::collections::HashMap<String, (Vec<usize>, usize)> {
        self.question_terms.get_or_init(|| {
            let cjk = self.language() == "zh";
            let mut out: std::collections::HashMap<String, (Vec<usize>, usize)> = Default::default();
            for (n, _, text) in self.question_keys() {
                for t in crate::text::key_terms(text, cjk) {
                    out.entry(t).or_default().0.push(*n);
                }
            }
            let c = self.chapter;
            for q in c.questions.iter().filter(|q| q.gap.is_none()) {
                let mut used: Vec<String> = crate::text::words(c.answer(q)).map(str::to_ascii_lowercase).collect();
                used.sort();
                used.dedup();
                for w in used {
                    if let Some((_, answers)) = out.get_mut(&w) {
                        *answers += 1;
                    }
                }
            }
            out
        })
    }

    /// The chapter's questions whose [`crate::chapter::near_key`] (of six characters or more)
    /// `key` contains, in chapter order: one pass over `key` whatever the number of
    /// questions, so that checking every draft of a chapter of thousands stays linear.
    pub fn questions_named_in(&self, key: &str) -> Vec<&(usize, String, String)> {
        let keys = self.question_keys();
        let finder = self.question_finder.get_or_init(|| {
            // Short keys would match too much to mean anything.
            let long: Vec<usize> = (0..keys.len()).filter(|&i| keys[i].1.chars().count() >= 6).collect();
            let finder = aho_corasick::AhoCorasick::new(long.iter().map(|&i| &keys[i].1)).ok()?;
            Some((finder, long))
        });
        let Some((finder, long)) = finder else {
            return Vec::new();
        };
        let mut found: Vec<usize> = finder
            .find_overlapping_iter(key)
            .map(|m| long[m.pattern().as_usize()])
            .collect();
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|i| &keys[i]).collect()
    }

    /// The chapter's context with its fixed style examples, and their question indices:
    /// the answers closest to the chapter's median length among those with the most of its
    /// structure (bold, lists, tables or sub-headings), while they fit in `budget`
    /// characters, in chapter order. Chosen once per chapter.
    fn shared(&self, budget: usize) -> &(ChapterContext, std::collections::HashSet<usize>) {
        self.shared.get_or_init(|| {
            let chapter = self.chapter;
            let answers: Vec<(usize, String)> = self
                .answered
                .iter()
                .map(|&i| (i, chapter.answer_body(&chapter.questions[i]).trim().to_owned()))
                .collect();
            let mut lens: Vec<usize> = answers.iter().map(|(_, a)| a.chars().count()).collect();
            lens.sort_unstable();
            let median = lens.get(lens.len() / 2).copied().unwrap_or(0) as i64;
            let structure = |a: &str| {
                let lines = || a.lines().map(str::trim_start);
                usize::from(a.contains("**"))
                    + usize::from(lines().any(|l| {
                        l.starts_with("- ")
                            || l.starts_with("* ")
                            || l.split_once(". ")
                                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    }))
                    + usize::from(lines().any(|l| l.starts_with('|') || l.starts_with('#')))
            };
            let mut ranked: Vec<(usize, i64, usize, &str)> = answers
                .iter()
                .map(|(i, a)| (structure(a), (a.chars().count() as i64 - median).abs(), *i, a.as_str()))
                .collect();
            ranked.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
            let mut left = budget;
            let mut chosen: Vec<(usize, String, bool)> = Vec::new();
            for &(_, _, i, a) in &ranked {
                let len = a.chars().count();
                if len <= left {
                    left -= len;
                    chosen.push((i, a.to_owned(), false));
                }
            }
            if chosen.is_empty()
                && budget > 0
                && let Some(&(_, _, i, a)) = ranked.first()
            {
                chosen.push((i, cut(a, budget).to_owned(), true));
            }
            chosen.sort_by_key(|(i, ..)| *i);
            let indices = chosen.iter().map(|(i, ..)| chapter.questions[*i].index).collect();
            let mut context = self.context.clone();
            context.examples = chosen
                .into_iter()
                .map(|(i, answer, truncated)| {
                    let q = &chapter.questions[i];
                    Example {
                        index: q.index,
                        question: chapter.heading(q).text.clone(),
                        answer,
                        truncated,
                    }
                })
                .collect();
            (context, indices)
        })
    }

    /// Style examples: the answered questions nearest to `gap` other than those in `skip`,
    /// alternating before and after, while they fit in `budget` characters. The nearest one
    /// is cut to fit rather than dropped, so a chapter with long answers still gives one
    /// example.
    fn examples(&self, gap: &Gap, budget: usize, skip: &std::collections::HashSet<usize>) -> Vec<Example> {
        let chapter = self.chapter;
        let split = self
            .answered
            .partition_point(|&i| chapter.questions[i].index < gap.index);
        let (mut before, mut after) = (self.answered[..split].iter().rev(), self.answered[split..].iter());
        let mut left = budget;
        let mut chosen = Vec::new();
        while left > 0 {
            let (b, a) = (before.next(), after.next());
            if b.is_none() && a.is_none() {
                break;
            }
            for &i in b.into_iter().chain(a) {
                let q = &chapter.questions[i];
                // A rewrite's own answer is its `existing`, not an example.
                if skip.contains(&q.index) || q.index == gap.index {
                    continue;
                }
                let body = chapter.answer_body(q);
                let answer = body.trim();
                let len = answer.chars().count();
                if len <= left {
                    left -= len;
                    chosen.push((q, answer.to_owned(), false));
                } else if chosen.is_empty() {
                    chosen.push((q, cut(answer, left).to_owned(), true));
                    left = 0;
                }
            }
        }
        chosen.sort_by_key(|(q, ..)| q.index);
        chosen
            .into_iter()
            .map(|(q, answer, truncated)| Example {
                index: q.index,
                question: chapter.heading(q).text.clone(),
                answer,
                truncated,
            })
            .collect()
    }

    /// Estimated tokens of what the chapter's prompts share (title, TOC and style
    /// examples), for the cache warm-up's threshold.
    pub fn shared_tokens(&self, example_chars: usize) -> u64 {
        let (context, _) = self.shared(shared_budget(example_chars));
        let est = crate::llm::tokens::estimate;
        est(&context.title)
            + est(&context.path)
            + context.toc.iter().map(|t| est(&t.text) + 2).sum::<u64>()
            + context
                .examples
                .iter()
                .map(|e| est(&e.question) + est(&e.answer) + 10)
                .sum::<u64>()
    }
}

/// The part of `example_chars` that goes to the chapter's fixed style examples (three
/// fifths); the nearest answers get the rest.
fn shared_budget(example_chars: usize) -> usize {
    example_chars.saturating_mul(3) / 5
}

/// What stays the same for every gap of a run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// `prompts/style.md`, if it says something.
    pub style: Option<String>,
    /// Today's date, for templates that want it.
    pub today: String,
    /// Character budget for the style examples: three fifths for the chapter's fixed ones
    /// ([`ChapterContext::examples`]), the rest for [`PromptContext::examples`].
    pub example_chars: usize,
    /// Set [`Messages::cache_key`] to the chapter.
    pub prompt_cache_key: bool,
    /// `prompts/glossary.toml`: listed to the model, and the gate's `terminology` warning.
    pub glossary: Option<crate::glossary::Glossary>,
    /// The book's answered questions, for [`PromptContext::related`]; none leaves it empty.
    pub related: Option<std::sync::Arc<crate::related::Index>>,
    /// `[draft] related_chars`: characters of related answers per prompt; 0 shows none.
    pub related_chars: usize,
}

/// The answered questions of the book most related to `gap`, for its prompt: never the
/// question itself (nor, for a rewrite, its current answer), never a source the references
/// already hold, nor an answer the prompt shows as an example; other chapters first, each
/// group best first; at most [`RELATED_MAX`], sharing `run.related_chars` fairly.
fn related(
    facts: &ChapterFacts,
    gap: &Gap,
    run: &RunContext,
    references: &[crate::refs::Reference],
    shown: &std::collections::HashSet<&str>,
) -> Vec<Related> {
    let Some(index) = run.related.as_deref().filter(|_| run.related_chars > 0) else {
        return Vec::new();
    };
    let hits = match index.search(gap.text, 4 * RELATED_MAX + shown.len()) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("related answers for {}#{}: {e:#}", facts.name, gap.anchor);
            return Vec::new();
        }
    };
    let own = gap.question.map(|q| facts.chapter.answer_body(q).trim().to_owned());
    let mut kept: Vec<crate::related::Hit> = hits
        .into_iter()
        .filter(|h| !(h.chapter == facts.name && h.anchor == gap.anchor))
        .filter(|h| own.as_deref() != Some(h.answer.as_str()))
        .filter(|h| !(h.chapter == facts.name && shown.contains(h.question.as_str())))
        .filter(|h| {
            !references
                .iter()
                .any(|r| r.source == format!("{}#{}", h.chapter, h.anchor))
        })
        .collect();
    let best = kept.first().map_or(0.0, |h| h.score);
    kept.retain(|h| h.score >= best * RELATED_FLOOR);
    // Stable: within each group the index's order, best first.
    kept.sort_by_key(|h| h.chapter == facts.name);
    kept.truncate(RELATED_MAX);
    let lens: Vec<usize> = kept.iter().map(|h| h.answer.chars().count()).collect();
    kept.into_iter()
        .zip(crate::text::fair_shares(&lens, run.related_chars))
        .filter(|(_, share)| *share > 0)
        .map(|(h, share)| {
            let answer = crate::text::cut_at_paragraph(&h.answer, share);
            Related {
                link: format!("{}#{}", relative_path(facts.name, &h.chapter), h.anchor),
                truncated: answer.len() < h.answer.len(),
                answer: answer.to_owned(),
                chapter: h.chapter,
                anchor: h.anchor,
                question: h.question,
                score: h.score,
            }
        })
        .collect()
}

/// The path of chapter `to` as a link from chapter `from` (both below the content folder,
/// `/`-separated), spaces escaped so that Markdown keeps it one link.
fn relative_path(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> = from
        .rsplit_once('/')
        .map_or(Vec::new(), |(d, _)| d.split('/').collect());
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from_dir.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from_dir.len() - common];
    parts.extend(&to_parts[common..]);
    parts.join("/").replace(' ', "%20")
}

/// Builds the context for one gap of the chapter `facts` describes; `rewrite` asks for a new
/// version of an answered question.
pub fn context<'a>(
    facts: &'a ChapterFacts,
    gap: &Gap,
    rules: &Rules,
    run: &'a RunContext,
    rewrite: bool,
    references: &'a [crate::refs::Reference],
) -> PromptContext<'a> {
    let chapter = facts.chapter;
    let shared = shared_budget(run.example_chars);
    let (chapter_context, fixed) = facts.shared(shared);
    let examples = facts.examples(gap, run.example_chars - shared, fixed);
    let shown: std::collections::HashSet<&str> = (chapter_context.examples.iter())
        .chain(&examples)
        .map(|e| e.question.as_str())
        .collect();
    let (existing, sub_questions) = match (gap.kind, gap.question) {
        (_, Some(q)) if rewrite => (Some(chapter.answer_body(q).trim().to_owned()), Vec::new()),
        (GapKind::Stub | GapKind::Outline, Some(q)) => {
            let subs = if gap.kind == GapKind::Outline {
                chapter.sub_questions(q, rules)
            } else {
                Vec::new()
            };
            (Some(chapter.answer_body(q).trim().to_owned()), subs)
        }
        _ => (None, Vec::new()),
    };
    PromptContext {
        question: QuestionContext {
            text: gap.text.to_owned(),
            id: crate::identity::question_id(facts.name, gap.anchor),
            anchor: gap.anchor.to_owned(),
            index: gap.index,
            level: answer_level(chapter, gap),
            kind: gap.kind,
            existing,
            sub_questions,
            rewrite,
            stem: gap
                .question
                .and_then(|q| q.stem.clone())
                .map(|r| chapter.text()[r].trim().to_owned()),
        },
        chapter: chapter_context,
        related: related(facts, gap, run, references, &shown),
        examples,
        language: facts.language,
        style: run.style.as_deref(),
        glossary: run.glossary.as_ref().map_or(&[], |g| g.terms()),
        today: &run.today,
        references,
    }
}

/// A template's own frame: the text it writes around the content (instructions, labels,
/// markers such as `……（示例截断）`) and the tags it wraps content in (`<示例>`, `<reference>`),
/// taken from its source: the literal text and the string literals inside its tags. None of
/// it belongs in an answer; the gate's `leak` looks for it there.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// Lines of the frame with at least [`Frame::MIN_CHARS`] non-blank characters.
    pub lines: Vec<String>,
    /// Names of the tags the frame opens or closes, other than HTML's own.
    pub tags: Vec<String>,
}

impl Frame {
    /// Non-blank characters a line of the frame needs to count: shorter ones (`问题：`,
    /// `Question: `) are words any answer may use.
    pub const MIN_CHARS: usize = 8;

    /// The frame of a template's source.
    pub fn of(source: &str) -> Frame {
        static TAG: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new(r"</?([\p{L}_][\p{L}\p{N}_-]*)").expect("valid"));
        static LITERAL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r#""((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'"#).expect("valid")
        });
        let mut text = String::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            let (before, from) = rest.split_at(open);
            let close = match from.get(..2) {
                Some("{{") => "}}",
                Some("{%") => "%}",
                Some("{#") => "#}",
                _ => {
                    text.push_str(&rest[..open + 1]);
                    rest = &rest[open + 1..];
                    continue;
                }
            };
            text.push_str(before);
            let end = from.find(close).map_or(from.len(), |e| e + 2);
            // Comments are not sent; string literals in expressions and statements are.
            if close != "#}" {
                for c in LITERAL.captures_iter(&from[..end]) {
                    text.push('\n');
                    text.push_str(c.get(1).or(c.get(2)).map_or("", |m| m.as_str()));
                }
                text.push('\n');
            }
            rest = &from[end..];
        }
        text.push_str(rest);
        let mut lines: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.chars().filter(|c| !c.is_whitespace()).count() >= Self::MIN_CHARS)
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines.dedup();
        let mut tags: Vec<String> = TAG
            .captures_iter(&text)
            .map(|c| c[1].to_owned())
            .filter(|t| !crate::chapter::html::is_html_element(t))
            .collect();
        tags.sort();
        tags.dedup();
        Frame { lines, tags }
    }
}

/// A loaded template.
pub struct Templates {
    env: Environment<'static>,
    /// The template's name, as `--template` takes it.
    pub name: String,
    /// Where it was read from, or `None` for the built-in default.
    pub path: Option<PathBuf>,
    /// A short hash of its source, recorded in drafts.
    pub hash: String,
    /// Its own text around the content, which no answer should hold.
    pub frame: Frame,
}

impl Templates {
    /// Loads `prompts/NAME.jinja` (`default` falls back to the built-in template). Other
    /// templates in the folder can be `{% include %}`d or `{% extends %}`ed.
    pub fn load(prompts_dir: &Path, name: &str) -> Result<Templates> {
        if name.contains(['/', '\\']) || name.starts_with('.') {
            bail!("template name {name:?}: give a name from the prompts folder, without extension");
        }
        let file = format!("{name}.{EXTENSION}");
        let path = prompts_dir.join(&file);
        let (source, from) = match std::fs::read_to_string(&path) {
            Ok(s) => (s, Some(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && builtin(name).is_some() => {
                (builtin(name).unwrap_or_default().to_owned(), None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!(
                    "no template {} (available: {})",
                    path.display(),
                    available(prompts_dir).join(", ")
                )
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut env = Environment::new();
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let dir = prompts_dir.to_path_buf();
        env.set_loader(move |inc: &str| {
            if inc.split('/').any(|part| part == ".." || part.is_empty()) {
                return Ok(None);
            }
            match std::fs::read_to_string(dir.join(inc)) {
                Ok(s) => Ok(Some(s)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "cannot read template")
                        .with_source(e),
                ),
            }
        });
        let shown = from
            .as_ref()
            .map_or_else(|| format!("<built-in {file}>"), |p| p.display().to_string());
        env.add_template_owned(file.clone(), source.clone())
            .map_err(|e| template_error(&shown, &e))?;
        let t = Templates {
            env,
            name: name.to_owned(),
            path: from,
            hash: crate::identity::short_hash(&[source.as_bytes()], 12),
            frame: Frame::of(&source),
        };
        Ok(t)
    }

    fn template(&self) -> Result<minijinja::Template<'_, '_>> {
        let file = format!("{}.{EXTENSION}", self.name);
        self.env
            .get_template(&file)
            .map_err(|e| template_error(&self.shown(), &e))
    }

    /// How errors name the template file.
    pub fn shown(&self) -> String {
        self.path.as_ref().map_or_else(
            || format!("<built-in {}.{EXTENSION}>", self.name),
            |p| p.display().to_string(),
        )
    }

    /// Renders the `system` and `user` blocks.
    pub fn render(&self, ctx: &PromptContext) -> Result<Messages> {
        self.render_for(ctx, &ctx.question.id)
    }

    /// Renders the blocks with any context; `id` names the question in errors.
    pub fn render_for(&self, ctx: &impl Serialize, id: &str) -> Result<Messages> {
        let template = self.template()?;
        let mut captured = template
            .render_captured(Value::from(Serde(ctx)))
            .map_err(|e| template_error(&self.shown(), &e))?;
        let shown = self.shown();
        captured.with_state_mut(|state| {
            let mut block = |name: &str| match state.render_block(name) {
                Ok(s) => Ok(Some(s.trim().to_owned())),
                Err(e) if e.kind() == minijinja::ErrorKind::UnknownBlock => Ok(None),
                Err(e) => Err(template_error(&shown, &e)),
            };
            let system = block("system")?.filter(|s| !s.is_empty());
            let user = block("user")?.ok_or_else(|| anyhow!("{shown}: the template defines no {{% block user %}}"))?;
            if user.is_empty() {
                bail!("{shown}: the user message is empty for question {id}");
            }
            Ok(Messages {
                system,
                user,
                turns: Vec::new(),
                cache_key: None,
            })
        })
    }
}

/// Template names in the prompts folder.
fn available(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension()? == EXTENSION).then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    if !names.iter().any(|n| n == "default") {
        names.push("default (built-in)".into());
    }
    names.sort();
    names
}

/// A template error as `file:line: what`, with the offending template named even when the
/// error comes from an included one.
fn template_error(shown: &str, e: &minijinja::Error) -> anyhow::Error {
    let file = match e.name() {
        Some(n) if !shown.ends_with(n) => n.to_owned(),
        _ => shown.to_owned(),
    };
    let line = e.line().map(|l| format!(":{l}")).unwrap_or_default();
    let detail = e.detail().map_or_else(|| e.kind().to_string(), str::to_owned);
    anyhow!("{file}{line}: {detail}")
}
