//! The merge engine: where a draft's answer goes in a chapter, and the text after merging.
//! Pure: text in, edits out. Every byte outside an edit's range stays as it was.

use std::collections::HashMap;
use std::ops::Range;

use crate::chapter::{Chapter, GapKind, HeadingStyle, Question, Resolution, Rules, near_key, slug};
use crate::identity::{self, QuestionRef};

/// Why a draft no longer fits its chapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// No question with that anchor or text any more.
    Gone,
    /// The question has a real answer now.
    Answered,
    /// The question's heading or its (still unanswered) text changed since drafting.
    Changed,
}

impl Stale {
    pub fn reason(self) -> &'static str {
        match self {
            Stale::Gone => "the question is no longer in the chapter",
            Stale::Answered => "the question has an answer now",
            Stale::Changed => "the question or its text changed since the draft was made",
        }
    }
}

/// Where a draft stands against the chapter as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Ready,
    /// The chapter already holds this exact answer (a run stopped after writing).
    Merged,
    Stale(Stale),
}

/// Replace `range` of the chapter with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub text: String,
    /// Orders insertions at the same place: the table-of-contents position of a new section.
    pub order: usize,
}

/// A merge that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("the draft's answer is empty")]
    EmptyAnswer,
    /// Merging again would add the answer twice.
    #[error("the chapter already holds this answer")]
    AlreadyMerged,
    #[error("{}", .0.reason())]
    Stale(Stale),
}

/// The question a draft belongs to.
#[derive(Debug, Clone, Copy)]
enum Place<'c> {
    Question(&'c Question),
    /// A table-of-contents entry with no section yet.
    Missing(usize),
}

/// A parsed chapter with its questions indexed by anchor and by text, so that placing each of
/// many drafts is a lookup, not a scan of the chapter.
pub struct Merger<'c> {
    chapter: &'c Chapter<'c>,
    /// The first question with each anchor.
    by_anchor: HashMap<&'c str, &'c Question>,
    /// The first question with each heading text, by [`near_key`].
    by_text: HashMap<String, &'c Question>,
    /// Table-of-contents entries with no section, by anchor.
    missing: HashMap<&'c str, usize>,
}

impl<'c> Merger<'c> {
    pub fn new(chapter: &'c Chapter<'c>) -> Merger<'c> {
        let (mut by_anchor, mut by_text, mut missing) = (HashMap::new(), HashMap::new(), HashMap::new());
        for q in &chapter.questions {
            let h = chapter.heading(q);
            by_anchor.entry(h.anchor()).or_insert(q);
            by_text.entry(near_key(&h.text)).or_insert(q);
        }
        for (i, t) in chapter.toc.iter().enumerate() {
            if t.resolution == Resolution::Unresolved {
                missing.entry(t.anchor.as_str()).or_insert(i);
            }
        }
        Merger {
            chapter,
            by_anchor,
            by_text,
            missing,
        }
    }

    fn locate(&self, meta: &QuestionRef) -> Option<Place<'c>> {
        if let Some(&q) = self.by_anchor.get(meta.anchor) {
            return Some(Place::Question(q));
        }
        if meta.kind == GapKind::Missing {
            if let Some(&i) = self.missing.get(meta.anchor) {
                return Some(Place::Missing(i));
            }
        }
        self.by_text.get(&near_key(meta.text)).map(|&q| Place::Question(q))
    }

    /// Where the draft stands. `body` is the draft's answer.
    pub fn state<'m>(&self, meta: impl Into<QuestionRef<'m>>, body: &str) -> State {
        let meta = meta.into();
        match self.locate(&meta) {
            Some(place) => self.state_at(place, &meta, body),
            None => State::Stale(Stale::Gone),
        }
    }

    fn state_at(&self, place: Place, meta: &QuestionRef, body: &str) -> State {
        let chapter = self.chapter;
        match place {
            // Found by its anchor among the entries that still have no section.
            Place::Missing(_) => State::Ready,
            Place::Question(q) => {
                let answer = normalize(chapter.answer(q), "\n");
                let wanted = normalize(body, "\n");
                if !wanted.trim().is_empty() && answer.contains(wanted.trim()) {
                    return State::Merged;
                }
                if q.gap.is_none() {
                    State::Stale(Stale::Answered)
                } else if meta.kind != GapKind::Missing && identity::question_hash(chapter, q) != meta.span_hash {
                    State::Stale(Stale::Changed)
                } else {
                    State::Ready
                }
            }
        }
    }

    /// The edit that puts `body` under the draft's question. `force` accepts a stale draft
    /// (its question must still exist): the answer then replaces whatever is there.
    pub fn edit<'m>(
        &self,
        meta: impl Into<QuestionRef<'m>>,
        body: &str,
        rules: &Rules,
        force: bool,
    ) -> Result<Edit, MergeError> {
        let meta = meta.into();
        let chapter = self.chapter;
        let nl = chapter.newline();
        let body = normalize(body, nl);
        if body.trim().is_empty() {
            return Err(MergeError::EmptyAnswer);
        }
        let place = self.locate(&meta).ok_or(MergeError::Stale(Stale::Gone))?;
        match self.state_at(place, &meta, &body) {
            State::Merged => return Err(MergeError::AlreadyMerged),
            State::Stale(s) if !force => return Err(MergeError::Stale(s)),
            _ => {}
        }
        Ok(match place {
            Place::Question(q) => answer_edit(chapter, q, &body, nl, rules),
            Place::Missing(i) => missing_edit(chapter, i, &meta, &body, nl),
        })
    }
}

/// The draft body as it will stand in the chapter: the chapter's line endings, no blank lines
/// around it, one line ending at the end.
pub fn normalize(body: &str, nl: &str) -> String {
    let lf = body.replace("\r\n", "\n");
    let mut out = lf.trim_start_matches('\n').trim_end().to_owned();
    out.push('\n');
    if nl == "\n" { out } else { out.replace('\n', nl) }
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    if t.is_empty() {
        return true;
    }
    let mut chars = t.chars().filter(|c| !c.is_whitespace());
    let Some(first) = chars.next() else { return true };
    matches!(first, '-' | '*' | '_') && t.chars().filter(|&c| c == first).count() >= 3 && chars.all(|c| c == first)
}

/// Fills a question's answer span. Empty, placeholder and metadata-only answers keep their
/// lines but placeholders; stubs and outlines are replaced. Blank lines and thematic breaks
/// before the next heading are kept as they are.
fn answer_edit(chapter: &Chapter, q: &Question, body: &str, nl: &str, rules: &Rules) -> Edit {
    let text = chapter.text();
    let span = q.answer.clone();
    let lines: Vec<&str> = text[span.clone()].split_inclusive('\n').collect();
    let keep_end = lines.len() - lines.iter().rev().take_while(|l| is_separator(l)).count();
    let trailing: String = lines[keep_end..].concat();
    let keeps = matches!(
        q.gap,
        Some(GapKind::Empty | GapKind::Placeholder | GapKind::MetadataOnly)
    );
    let mut kept: Vec<&str> = if keeps {
        lines[..keep_end]
            .iter()
            .copied()
            .filter(|l| !rules.is_placeholder(l))
            .collect()
    } else {
        Vec::new()
    };
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    let mut new = String::with_capacity(body.len() + trailing.len() + 64);
    if span.start == text.len() && !text.ends_with('\n') {
        new.push_str(nl); // the heading is the file's last line, without a line ending
    }
    if kept.is_empty() {
        new.push_str(nl);
    } else {
        for l in &kept {
            new.push_str(l);
        }
        if !new.ends_with('\n') {
            new.push_str(nl);
        }
        new.push_str(nl);
    }
    new.push_str(body);
    new.push_str(&trailing);
    if span.end == text.len() && !text.ends_with('\n') && trailing.is_empty() {
        new.truncate(new.len() - nl.len()); // the file had no final line ending
    }
    Edit {
        range: span,
        text: new,
        order: 0,
    }
}

/// A new section for a table-of-contents entry with none: a heading in the style of the
/// chapter's questions, with the entry's anchor, placed where the table of contents orders it.
fn missing_edit(chapter: &Chapter, entry: usize, meta: &QuestionRef, body: &str, nl: &str) -> Edit {
    let text = chapter.text();
    let question_of = |h: usize| chapter.questions.iter().find(|q| q.heading == h);
    let next = chapter.toc[entry + 1..].iter().filter_map(|t| t.heading).next();
    let prev = chapter.toc[..entry].iter().rev().filter_map(|t| t.heading).next();
    let (pos, reference) = match (next, prev) {
        (Some(h), _) => (chapter.headings[h].unit.start, Some(h)),
        (None, Some(h)) => (question_of(h).map_or(text.len(), |q| q.answer.end), Some(h)),
        (None, None) => (text.len(), chapter.questions.first().map(|q| q.heading)),
    };
    let reference = reference.map(|h| &chapter.headings[h]);
    let level = reference.map_or(meta.level.max(1), |h| h.level);
    let title = &chapter.toc[entry].text;
    let anchor = &chapter.toc[entry].anchor;
    let heading = match reference.map(|h| h.style) {
        Some(HeadingStyle::Html) => format!("<h{level} id=\"{anchor}\">{title}</h{level}>"),
        _ if slug(title) == *anchor => format!("{} {title}", "#".repeat(level.into())),
        _ => format!("<a id=\"{anchor}\"></a>{nl}{} {title}", "#".repeat(level.into())),
    };
    let before = &text[..pos];
    let mut new = String::new();
    if !before.is_empty() && !before.ends_with('\n') {
        new.push_str(nl);
    }
    if !before.is_empty() && !before.ends_with(&format!("{nl}{nl}")) && !before.ends_with("\n\n") {
        new.push_str(nl);
    }
    new.push_str(&heading);
    new.push_str(nl);
    new.push_str(nl);
    new.push_str(body);
    if pos < text.len() {
        new.push_str(nl);
    }
    Edit {
        range: pos..pos,
        text: new,
        order: entry,
    }
}

/// Applies edits that do not overlap, in one pass over the text: every range means the
/// original text, as if each edit were made on the file as the previous ones left it.
pub fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| (e.range.start, e.range.end, e.order));
    let grow: usize = edits.iter().map(|e| e.text.len()).sum();
    let mut out = String::with_capacity(text.len() + grow);
    let mut at = 0;
    for e in &edits {
        out.push_str(&text[at..e.range.start]);
        out.push_str(&e.text);
        at = e.range.end;
    }
    out.push_str(&text[at..]);
    out
}
