//! The merge engine: where a draft's answer goes in a chapter, and the text after merging.
//! Pure: text in, edits out. Every byte outside an edit's range stays as it was.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::chapter::{
    Chapter, GapKind, HeadingStyle, Question, Resolution, Rules, is_break_line, links, near_key, slug,
};
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
    /// Why, for people.
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
    /// It can be merged.
    Ready,
    /// The chapter already holds this exact answer (a run stopped after writing).
    Merged,
    /// It no longer fits, and why.
    Stale(Stale),
}

/// Replace `range` of the chapter with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The chapter's bytes replaced.
    pub range: Range<usize>,
    /// What replaces them.
    pub text: String,
    /// Orders insertions at the same place: the table-of-contents position of a new section.
    pub order: usize,
}

/// A merge that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("the draft's answer is empty")]
    /// Nothing to merge.
    EmptyAnswer,
    /// Merging again would add the answer twice.
    #[error("the chapter already holds this answer")]
    AlreadyMerged,
    #[error("{}", .0.reason())]
    /// The draft no longer fits, and why.
    Stale(Stale),
    /// A byte that would make the chapter unreadable or hide text on a terminal.
    #[error("the answer holds a control character ({0}); remove it and accept again")]
    ControlCharacter(String),
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
    /// The questions with each anchor: one, or several when a chapter repeats a heading.
    by_anchor: HashMap<&'c str, Vec<&'c Question>>,
    /// The first question with each heading text, by [`near_key`].
    by_text: HashMap<String, &'c Question>,
    /// Table-of-contents entries with no section, by anchor.
    missing: HashMap<&'c str, usize>,
}

impl<'c> Merger<'c> {
    /// Indexes `chapter`'s questions.
    pub fn new(chapter: &'c Chapter<'c>) -> Merger<'c> {
        let (mut by_anchor, mut by_text, mut missing) = (HashMap::new(), HashMap::new(), HashMap::new());
        for q in &chapter.questions {
            let h = chapter.heading(q);
            by_anchor.entry(h.anchor()).or_insert_with(Vec::new).push(q);
            by_text.entry(near_key(&h.text)).or_insert(q);
        }
        for (i, t) in chapter.toc.iter().enumerate() {
            if t.resolution == Resolution::Unresolved && !t.struck {
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
        if let Some(qs) = self.by_anchor.get(meta.anchor) {
            return Some(Place::Question(self.among(qs, meta)));
        }
        if meta.kind == GapKind::Missing
            && let Some(&i) = self.missing.get(meta.anchor)
        {
            return Some(Place::Missing(i));
        }
        self.by_text.get(&near_key(meta.text)).map(|&q| Place::Question(q))
    }

    /// Which of the questions sharing an anchor (a chapter that repeats a heading) the
    /// draft is for: the one whose span it was drafted against, else the first.
    fn among(&self, qs: &[&'c Question], meta: &QuestionRef) -> &'c Question {
        match qs {
            [one] => one,
            many => many
                .iter()
                .copied()
                .find(|q| identity::question_hash(self.chapter, q) == meta.span_hash)
                .unwrap_or(many[0]),
        }
    }

    /// The bytes the draft's question owns now: its heading (with the blank lines before it)
    /// and its answer; `None` when it is not in the chapter. What undo may take back lies
    /// inside it.
    pub fn section<'m>(&self, meta: impl Into<QuestionRef<'m>>) -> Option<Range<usize>> {
        let Some(Place::Question(q)) = self.locate(&meta.into()) else {
            return None;
        };
        let text = self.chapter.text().as_bytes();
        let mut start = self.chapter.headings[q.heading].unit.start;
        while start > 0 && matches!(text[start - 1], b'\n' | b'\r') {
            start -= 1;
        }
        Some(start..q.answer.end)
    }

    /// Where the draft stands. `body` is the draft's answer.
    pub fn state<'m>(&self, meta: impl Into<QuestionRef<'m>>, body: &str) -> State {
        let meta = meta.into();
        // Merged changes the span the draft was made against: any of the questions sharing
        // its anchor that holds the answer is it.
        if let Some(qs) = self.by_anchor.get(meta.anchor).filter(|qs| qs.len() > 1)
            && let Some(&q) = qs
                .iter()
                .find(|q| self.state_at(Place::Question(q), &meta, body) == State::Merged)
        {
            return self.state_at(Place::Question(q), &meta, body);
        }
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
                let answer = normalize(&chapter.answer_body(q), "\n");
                let wanted = normalize(body, "\n");
                if !wanted.trim().is_empty() && answer.contains(wanted.trim()) {
                    return State::Merged;
                }
                if q.gap.is_none() && !meta.rewrite {
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
        if let Some(what) = control_character(&body) {
            return Err(MergeError::ControlCharacter(what));
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

/// Fills a question's answer span. Empty, placeholder and metadata-only answers keep their
/// lines but placeholders; stubs, outlines and (for a rewrite) answers are replaced. Blank lines and thematic breaks
/// before the next heading are kept as they are.
fn answer_edit(chapter: &Chapter, q: &Question, body: &str, nl: &str, rules: &Rules) -> Edit {
    let text = chapter.text();
    let span = q.answer.clone();
    // Inside a list item the answer takes the item's indentation; a question whose answers
    // go in `<details>` blocks gets one in the chapter's own form.
    let indented = indent(body, chapter.answer_indent(q));
    let boxed;
    let body = match chapter.details_form(q) {
        Some((open, close)) => {
            boxed = details_box(open, &indented, close, nl);
            boxed.as_str()
        }
        None => &indented,
    };
    let lines: Vec<&str> = text[span.clone()].split_inclusive('\n').collect();
    let keep_end = lines.len() - lines.iter().rev().take_while(|l| is_break_line(l)).count();
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

/// `body` with `n` spaces before each of its lines but blank ones.
fn indent(body: &str, n: usize) -> Cow<'_, str> {
    if n == 0 {
        return Cow::Borrowed(body);
    }
    let pad = " ".repeat(n);
    let mut out = String::with_capacity(body.len() + n * 16);
    for line in body.split_inclusive('\n') {
        // Empty lines stay empty; a line of spaces (in code) keeps its own after the pad.
        if !line.trim_end_matches(['\r', '\n']).is_empty() {
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    Cow::Owned(out)
}

/// `body` in a `<details>` block written as `open` and `close` are: a blank line after the
/// opening tags and before the closing ones, so that the Markdown inside renders.
fn details_box(open: &str, body: &str, close: &str, nl: &str) -> String {
    let mut out = String::with_capacity(open.len() + body.len() + close.len() + 8);
    out.push_str(open);
    if !out.ends_with('\n') {
        out.push_str(nl);
    }
    if !out.ends_with(&format!("{nl}{nl}")) {
        out.push_str(nl);
    }
    out.push_str(body);
    if !close.trim_start_matches([' ', '\t']).starts_with(['\r', '\n']) {
        out.push_str(nl);
    }
    out.push_str(close);
    out
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
pub fn apply(text: &str, edits: Vec<Edit>) -> String {
    apply_at(text, &edits).0
}

/// [`apply`], also saying where each edit's text starts in the result (in the order of
/// `edits`).
pub fn apply_at(text: &str, edits: &[Edit]) -> (String, Vec<usize>) {
    let mut order: Vec<usize> = (0..edits.len()).collect();
    order.sort_by_key(|&i| (edits[i].range.start, edits[i].range.end, edits[i].order));
    let grow: usize = edits.iter().map(|e| e.text.len()).sum();
    let mut out = String::with_capacity(text.len() + grow);
    let mut offsets = vec![0; edits.len()];
    let mut at = 0;
    for i in order {
        let e = &edits[i];
        out.push_str(&text[at..e.range.start]);
        offsets[i] = out.len();
        out.push_str(&e.text);
        at = e.range.end;
    }
    out.push_str(&text[at..]);
    (out, offsets)
}

/// The first byte of `s` that must not go into a chapter: NUL and the other C0 and C1
/// control characters but tab and line endings, DEL, a carriage return that ends no line, a
/// byte-order mark. Described, never quoted: quoting it would write it to the terminal.
pub fn control_character(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    s.char_indices()
        .find(|&(i, c)| match c {
            '\t' | '\n' => false,
            '\r' => bytes.get(i + 1) != Some(&b'\n'),
            '\u{feff}' => true,
            c => c.is_control(),
        })
        .map(|(i, c)| format!("U+{:04X} at byte {i}", c as u32))
}

/// A question of a chapter as [`verify`] compares it.
struct Seen<'c> {
    anchor: &'c str,
    /// Its place among the questions with the same anchor (0 for the first).
    nth: usize,
    text: &'c str,
    index: usize,
    gap: Option<GapKind>,
    answer: &'c str,
}

fn seen<'c>(c: &'c Chapter) -> Vec<Seen<'c>> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    c.questions
        .iter()
        .map(|q| {
            let anchor = c.heading(q).anchor();
            let nth = count.entry(anchor).or_default();
            *nth += 1;
            Seen {
                anchor,
                nth: *nth - 1,
                text: &c.heading(q).text,
                index: q.index,
                gap: q.gap,
                answer: c.answer(q).trim(),
            }
        })
        .collect()
}

/// Refuses a merge that changes where a link, image or footnote of any other part of the
/// chapter leads: Markdown resolves definitions across the whole file, so an answer that
/// defines a label another question uses (or uses as plain `[text]`) would take it over.
fn same_references(before: &Chapter, after: &Chapter, targets: &HashSet<&str>, old: &[Seen]) -> Result<(), String> {
    fn by_question<'c>(c: &'c Chapter) -> HashMap<&'c str, Vec<String>> {
        let starts: Vec<(usize, &str)> = c
            .questions
            .iter()
            .map(|q| (c.headings[q.heading].unit.start, c.heading(q).anchor()))
            .collect();
        let mut out: HashMap<&str, Vec<String>> = HashMap::new();
        for r in links::resolved(c.text()) {
            let i = starts.partition_point(|(s, _)| *s <= r.at);
            let anchor = if i == 0 { "" } else { starts[i - 1].1 };
            out.entry(anchor).or_default().push(r.target);
        }
        out
    }
    let (was, now) = (by_question(before), by_question(after));
    let empty = Vec::new();
    let mut changed: Vec<&str> = was
        .keys()
        .chain(now.keys())
        .filter(|a| !targets.contains(*a))
        .filter(|a| was.get(*a).unwrap_or(&empty) != now.get(*a).unwrap_or(&empty))
        .copied()
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    changed.sort_unstable();
    changed.dedup();
    let index: HashMap<&str, usize> = old.iter().map(|q| (q.anchor, q.index)).collect();
    let named: Vec<String> = changed
        .iter()
        .map(|a| {
            index
                .get(a)
                .map_or_else(|| "the chapter's introduction".to_owned(), |i| format!("question {i}"))
        })
        .collect();
    Err(format!(
        "its link or footnote definitions would change where links or footnotes of {} lead",
        named.join(", ")
    ))
}

/// `8`, `8–12`, `8, 10`.
fn numbers(mut n: Vec<usize>) -> String {
    n.sort_unstable();
    match (n.first(), n.last()) {
        (Some(a), Some(b)) if n.len() > 2 && b - a + 1 == n.len() => format!("{a}–{b}"),
        _ => n.iter().map(usize::to_string).collect::<Vec<_>>().join(", "),
    }
}

static ID_ATTR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\b(?:id|name)\s*=\s*["']([^"']+)["']|\{#([^}\s]+)\}"#).expect("valid"));

/// The anchors an answer defines itself (`<a id>`, `id=`, `{#id}`).
pub fn defined_anchors(body: &str) -> impl Iterator<Item = &str> {
    ID_ATTR
        .captures_iter(body)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)).map(|m| m.as_str()))
}

/// What an answer opens and never closes (a code block, or outside code an HTML comment or
/// block tag), as the opening of a refusal: the reason a merge swallowed what follows it.
pub fn never_closed(body: &str) -> Option<String> {
    use crate::chapter::html;
    let what = if html::unclosed_fence(body).is_some() {
        "a code block".to_owned()
    } else {
        let text = html::outside_code(body).to_ascii_lowercase();
        if html::unclosed_comment(&text) {
            "an HTML comment".to_owned()
        } else {
            format!("<{}>", html::unclosed_tags(&text).first()?)
        }
    };
    Some(format!("the answer opens {what} that is never closed; "))
}

/// Checks a merged chapter against the chapter before: the same questions in the same order,
/// every question but the accepted ones with the same kind and answer, no new question but
/// the accepted missing entries, every table-of-contents link reaching the same question, and
/// no anchor defined a second time. `accepted` holds each merged draft's question and body.
/// The error says what the merge would break, and why when it can tell.
pub fn verify(before: &Chapter, after: &Chapter, accepted: &[(QuestionRef, &str)]) -> Result<(), String> {
    let targets: HashSet<&str> = accepted.iter().map(|(m, _)| m.anchor).collect();
    let why = || {
        accepted
            .iter()
            .find_map(|(_, body)| never_closed(body))
            .unwrap_or_default()
    };
    let old = seen(before);
    let new = seen(after);
    // A chapter may repeat a heading: questions are told apart by their anchor and their
    // place among the questions sharing it.
    let new_by_anchor: HashMap<(&str, usize), &Seen> = new.iter().map(|q| ((q.anchor, q.nth), q)).collect();
    let gone: Vec<usize> = old
        .iter()
        .filter(|q| !new_by_anchor.contains_key(&(q.anchor, q.nth)))
        .map(|q| q.index)
        .collect();
    if !gone.is_empty() {
        return Err(format!("{}it would swallow question(s) {}", why(), numbers(gone)));
    }
    let old_anchors: HashSet<&str> = old.iter().map(|q| q.anchor).collect();
    if let Some(q) = new
        .iter()
        .find(|q| !old_anchors.contains(q.anchor) && !targets.contains(q.anchor))
    {
        return Err(format!("{}it would add a question ({:?})", why(), q.text));
    }
    let order: Vec<&str> = new
        .iter()
        .map(|q| q.anchor)
        .filter(|a| old_anchors.contains(a))
        .collect();
    if order.iter().zip(&old).any(|(a, q)| *a != q.anchor) {
        return Err(format!("{}it would change the order of the questions", why()));
    }
    let changed: Vec<usize> = old
        .iter()
        .filter(|q| !targets.contains(q.anchor))
        .filter(|q| {
            new_by_anchor
                .get(&(q.anchor, q.nth))
                .is_some_and(|n| n.gap != q.gap || n.answer != q.answer)
        })
        .map(|q| q.index)
        .collect();
    if !changed.is_empty() {
        return Err(format!(
            "{}it would change the answer of question(s) {}",
            why(),
            numbers(changed)
        ));
    }
    let reach = |c: &Chapter, i: usize| c.toc[i].heading.map(|h| c.headings[h].anchor().to_owned());
    let after_toc: HashMap<&str, usize> = after
        .toc
        .iter()
        .enumerate()
        .map(|(i, t)| (t.anchor.as_str(), i))
        .collect();
    for (i, t) in before.toc.iter().enumerate() {
        let Some(was) = reach(before, i) else { continue };
        if after_toc.get(t.anchor.as_str()).and_then(|&j| reach(after, j)) != Some(was) {
            return Err(format!(
                "the table-of-contents link {:?} would no longer reach its question",
                t.target
            ));
        }
    }
    if accepted.iter().any(|(_, body)| links::may_define(body)) {
        same_references(before, after, &targets, &old)?;
    }
    let mut defined: HashMap<&str, usize> = HashMap::new();
    for h in &before.headings {
        *defined.entry(h.anchor()).or_default() += 1;
    }
    for (_, body) in accepted {
        if let Some(id) = defined_anchors(body).find(|id| defined.contains_key(id)) {
            return Err(format!(
                "the answer defines the anchor `{id}`, which the chapter already has"
            ));
        }
    }
    let mut now: HashMap<&str, usize> = HashMap::new();
    for h in &after.headings {
        *now.entry(h.anchor()).or_default() += 1;
    }
    if let Some((a, _)) = now
        .iter()
        .find(|(a, n)| **n > 1 && **n > defined.get(*a).copied().unwrap_or(0))
    {
        return Err(format!("the anchor `{a}` would be defined a second time"));
    }
    Ok(())
}
