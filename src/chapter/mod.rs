//! The chapter model shared by every stage: which headings are questions, where each answer
//! begins and ends, what the table of contents links to, and which answers are gaps.
//!
//! [`Chapter::parse`] reads the text once with pulldown-cmark and keeps byte offsets into it; it
//! never changes a byte, so later stages can splice answers into the original text.

mod anchor;
mod answers;
mod events;
pub mod html;
pub mod links;
mod questions;
mod rules;
mod toc;

use crate::text::visible_chars;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use pulldown_cmark::Options;
use regex::Regex;
use serde::Serialize;

pub use anchor::{decode_target, near_key, slug};
pub(crate) use questions::{asks_or_sets_task, question_text};
use rules::LineKind;
pub use rules::{PatternError, QuestionConfig, Rules};

/// The pulldown-cmark extensions GitHub renders, and front matter (YAML `---` or TOML `+++`
/// at the top, as Jekyll, Hugo and docs sites write it) read as metadata, never as a setext
/// heading; the benchmark's baseline uses the same.
pub fn parser_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_MATH
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS
}

/// How a heading is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadingStyle {
    /// `## Title`
    Atx,
    /// `Title` underlined with `===` or `---`
    Setext,
    /// `<h2 id="…">Title</h2>`
    Html,
    /// The `<summary>` of a `<details>` block; its level is one below the heading before it.
    Summary,
    /// The first line of a list item at the top level, in a bank that asks in list items
    /// (`- Doctype作用？`); its level is one below the heading before it.
    Item,
}

/// One heading of the chapter, in any style.
#[derive(Debug, Clone)]
pub struct Heading {
    /// 1 to 6.
    pub level: u8,
    /// How it is written.
    pub style: HeadingStyle,
    /// The heading's own bytes (`<h2 …>…</h2>`, the `## …` line, or text plus underline).
    pub range: Range<usize>,
    /// From the start of whatever belongs to the heading (an `<a id>` line before it, an opening
    /// `<div>` wrapper) to the end of its last line, line ending included.
    pub unit: Range<usize>,
    /// 1-based line of the heading itself.
    pub line: usize,
    /// Plain text: markup, tags and anchors removed, white space folded.
    pub text: String,
    /// Explicit anchors: the `id` of the heading tag or of an `<a>` inside or just before it.
    pub ids: Vec<String>,
    /// The GitHub-style slug, with GitHub's `-1`, `-2` suffixes for repeats.
    pub slug: String,
    /// For a heading that is only a link into this file (`### [5.1.1 …](#q511)`): the target.
    pub link_target: Option<String>,
    /// For a heading that opens a list item (`1.  ### What is React?`): the column its text
    /// starts at, which the item's other lines are indented to.
    pub item_indent: Option<usize>,
    /// The end of the list item or `<details>` block this heading opens: whatever it heads
    /// ends there at the latest.
    pub scope_end: Option<usize>,
    /// Inside a `<details>` block that it does not open: part of that block's content.
    pub nested: bool,
}

impl Heading {
    /// The anchor links should use: the first explicit id, else the slug.
    pub fn anchor(&self) -> &str {
        self.ids.first().map_or(&self.slug, String::as_str)
    }
}

/// How a table-of-contents link found its heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// The anchor names the heading (up to letter case).
    Anchor,
    /// The anchor names nothing, but the link text is the heading's text.
    Text,
    /// The anchor misses by a `#`, white space, hyphens or letter case.
    NearMiss,
    /// Nothing matches, but the entry stands where an unlisted heading does: the question
    /// was renamed after the table of contents was written.
    Order,
    /// Nothing matches.
    Unresolved,
}

/// A link of the table of contents.
#[derive(Debug, Clone)]
pub struct TocEntry {
    /// The link's text.
    pub text: String,
    /// The link target as written (`#q-001`, or `q-001` with the `#` dropped).
    pub target: String,
    /// The anchor it points at: decoded, without `#` and GitHub's `user-content-` prefix.
    pub anchor: String,
    /// 1-based line of the link.
    pub line: usize,
    /// Byte offset of the link.
    pub offset: usize,
    /// The heading it leads to, by index into [`Chapter::headings`].
    pub heading: Option<usize>,
    /// How that heading was found.
    pub resolution: Resolution,
    /// Struck through (`[~~…~~](#…)`): the author took the question out; never a gap.
    pub struck: bool,
}

/// A link or image anywhere in the chapter. Borrows from the text where it can: chapters
/// have thousands of links.
#[derive(Debug, Clone)]
pub struct Link<'a> {
    /// The link's destination as written.
    pub dest: Cow<'a, str>,
    /// Link text, or an image's alt text.
    pub text: Cow<'a, str>,
    /// An image rather than a link.
    pub image: bool,
    /// 1-based line of the link.
    pub line: usize,
    /// Byte offset of the link.
    pub offset: usize,
    in_list: bool,
    in_heading: bool,
    /// Inside `~~…~~`, or with all its text struck through.
    struck: bool,
    in_table: bool,
    /// The only thing in its paragraph: a table-of-contents line written without a list.
    alone: bool,
}

/// A Markdown heading being read by [`Chapter::scan_events`].
struct OpenHeading {
    /// The event depth it opened at: 0, or inside the list item it opens.
    depth: usize,
    level: u8,
    range: Range<usize>,
    text: String,
    ids: Vec<String>,
    /// Characters of its text outside links, to tell link-only headings.
    plain: usize,
}

/// A link or image being read by [`Chapter::scan_events`].
struct OpenLink<'a> {
    dest: Cow<'a, str>,
    /// Its text so far.
    text: Cow<'a, str>,
    image: bool,
    offset: usize,
    /// Opened inside `~~…~~`.
    in_strike: bool,
    /// Characters of its text inside and outside `~~…~~`.
    struck_chars: usize,
    plain_chars: usize,
}

/// Why an answer counts as missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapKind {
    /// Nothing but white space, rules, empty HTML wrappers, comments or an answer label.
    Empty,
    /// Only placeholder markers such as 待补充 or TODO.
    Placeholder,
    /// Only metadata lines (difficulty, frequency).
    MetadataOnly,
    /// Only links, or less prose than the configured minimum.
    Stub,
    /// Only a list of sub-questions (or sub-headings) without answers.
    Outline,
    /// A table-of-contents entry whose heading does not exist.
    Missing,
}

impl GapKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [GapKind; 6] = [
        GapKind::Empty,
        GapKind::Placeholder,
        GapKind::MetadataOnly,
        GapKind::Stub,
        GapKind::Outline,
        GapKind::Missing,
    ];

    /// The kind's name, as reports and `--json` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            GapKind::Empty => "empty",
            GapKind::Placeholder => "placeholder",
            GapKind::MetadataOnly => "metadata-only",
            GapKind::Stub => "stub",
            GapKind::Outline => "outline",
            GapKind::Missing => "missing",
        }
    }
}

impl std::fmt::Display for GapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a question's answer lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Holder {
    /// Under the heading, up to the next question or higher-ranked heading.
    Section,
    /// The rest of the list item the heading opens; its lines are indented by `indent`.
    /// A list item; its text is indented by `indent` columns.
    Item {
        /// Columns the item's text is indented by.
        indent: usize,
    },
    /// The rest of the `<details>` block whose `<summary>` is the question.
    Summary,
    /// A `<details>` block after the question and its stem: the chapter keeps its answers so.
    Details,
}

/// A question: a heading that asks something, and the answer span under it.
#[derive(Debug, Clone)]
pub struct Question {
    /// Index into [`Chapter::headings`].
    pub heading: usize,
    /// 1-based number among the chapter's questions, for people.
    pub index: usize,
    /// The answer's bytes: from the end of the heading's line to the next question, the next
    /// higher-ranked heading, or the end of the file.
    pub answer: Range<usize>,
    /// True when deeper questions follow it and it has no answer of its own: a group
    /// heading, never a gap.
    pub group: bool,
    /// The table-of-contents entry linking to it.
    pub toc: Option<usize>,
    /// Why the answer counts as missing, if it does.
    pub gap: Option<GapKind>,
    /// Where the answer lives.
    pub holder: Holder,
    /// For [`Holder::Details`]: what comes between the heading and the answer block (code,
    /// options), part of the question.
    pub stem: Option<Range<usize>>,
    /// For [`Holder::Details`]: the question has no `<details>` block yet; `answer` is the
    /// empty place one goes, and a merge writes it in [`Chapter::details_form`].
    pub unboxed: bool,
}

/// One unanswered question, or a table-of-contents entry with no section at all.
#[derive(Debug, Clone, Copy)]
pub struct Gap<'c> {
    /// Why the answer counts as missing.
    pub kind: GapKind,
    /// 1-based number among the chapter's questions.
    pub index: usize,
    /// 1-based line of the question (or of its table-of-contents entry).
    pub line: usize,
    /// 0 for a missing entry, which has no heading.
    pub level: u8,
    /// The question's anchor.
    pub anchor: &'c str,
    /// The question's text.
    pub text: &'c str,
    /// The question, or `None` for a missing entry.
    pub question: Option<&'c Question>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Heading(usize),
    /// Paragraphs, lists and block quotes: text whose prose is counted.
    Text,
    Html,
    Rule,
    /// Code, tables, math, footnotes: always a real answer.
    Solid,
}

/// A top-level block, summarised while parsing so that classifying answers needs no second parse.
#[derive(Debug, Clone)]
struct Block {
    kind: BlockKind,
    range: Range<usize>,
    /// Non-blank characters of text outside links.
    prose: usize,
    links: usize,
    images: usize,
}

/// A `<details>` block, found in the chapter's HTML.
#[derive(Debug, Clone)]
struct Details {
    /// Where `<details` starts, and where its opening tag ends.
    open: usize,
    open_end: usize,
    /// The end of the line the opening tag is on.
    open_line_end: usize,
    /// Its `<summary>`'s heading, by the summary's offset (headings are sorted after the scan).
    summary: Option<usize>,
    /// Where its content ends: the start of the line of `</details>` when the tag opens that
    /// line, else the tag; the end of the text when it is never closed.
    body_end: usize,
    /// The end of the `</details>` line.
    close_line_end: usize,
    /// Inside another `<details>` or a list item.
    nested: bool,
    /// The list items open around it: a block its item ends without `</details>` ends there.
    items: usize,
}

/// A list item at the top level of the chapter.
#[derive(Debug, Clone)]
struct ListItem {
    /// The whole item, marker included.
    item: Range<usize>,
    /// Where its first block starts (its end when it is empty).
    lead: usize,
}

/// A parsed chapter. Offsets are byte offsets into the text given to [`Chapter::parse`],
/// BOM included.
#[derive(Debug)]
pub struct Chapter<'a> {
    text: &'a str,
    /// Every heading, in order.
    pub headings: Vec<Heading>,
    /// The table of contents' links, in order.
    pub toc: Vec<TocEntry>,
    /// The questions, in order.
    pub questions: Vec<Question>,
    /// Every link and image.
    pub links: Vec<Link<'a>>,
    /// Byte ranges of tables, for the lint that counts their columns.
    pub tables: Vec<Range<usize>>,
    blocks: Vec<Block>,
    details: Vec<Details>,
    /// The items of the lists at the top level, for banks that ask in list items.
    list_items: Vec<ListItem>,
    /// A `<details>` answer block of this chapter, as text before and after its answer: the
    /// form a merge gives a question that has none.
    details_form: Option<(Range<usize>, Range<usize>)>,
    line_starts: Vec<usize>,
}

impl<'a> Chapter<'a> {
    /// Parses a chapter. Never fails and never panics: any text is some chapter.
    pub fn parse(text: &'a str, rules: &Rules) -> Chapter<'a> {
        Self::read(text, rules, true)
    }

    /// Parses a piece of Markdown that is no chapter of its own (an answer, a reply): its list
    /// items never ask, whatever they say.
    pub(crate) fn parse_fragment(text: &'a str, rules: &Rules) -> Chapter<'a> {
        Self::read(text, rules, false)
    }

    fn read(text: &'a str, rules: &Rules, whole: bool) -> Chapter<'a> {
        let mut c = Chapter {
            text,
            headings: Vec::new(),
            toc: Vec::new(),
            questions: Vec::new(),
            links: Vec::new(),
            tables: Vec::new(),
            blocks: Vec::new(),
            details: Vec::new(),
            list_items: Vec::new(),
            details_form: None,
            line_starts: std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
                .collect(),
        };
        c.scan_events();
        // `<summary>` headings are pushed as their tags are met, HTML headings at the end of
        // their block: one HTML block may hold both.
        if c.details.iter().any(|d| d.summary.is_some()) {
            c.headings.sort_by_key(|h| h.range.start);
        }
        c.attach_anchor_lines();
        c.assign_slugs();
        let toc_end = c.find_toc();
        c.find_questions(toc_end, rules);
        if whole && c.questions.is_empty() && c.list_questions(rules) {
            c.find_questions(toc_end, rules);
        }
        c
    }

    /// The chapter's line ending: CRLF when its first line ends so. Text added to the chapter
    /// takes it.
    pub fn newline(&self) -> &'static str {
        match memchr::memchr(b'\n', self.text.as_bytes()) {
            Some(i) if i > 0 && self.text.as_bytes()[i - 1] == b'\r' => "\r\n",
            _ => "\n",
        }
    }

    /// The text the chapter was parsed from.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// 1-based line number of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    fn line_end(&self, offset: usize) -> usize {
        let line = self.line_of(offset);
        self.line_starts.get(line).copied().unwrap_or(self.text.len())
    }

    fn line_start(&self, offset: usize) -> usize {
        self.line_starts[self.line_of(offset) - 1]
    }

    /// The heading of a question.
    pub fn heading(&self, q: &Question) -> &Heading {
        &self.headings[q.heading]
    }

    /// The answer text of a question.
    pub fn answer(&self, q: &Question) -> &'a str {
        &self.text[q.answer.clone()]
    }

    /// The chapter's title: the text of its first level-1 heading that is not a table of
    /// contents heading (`# 目录`).
    pub fn title(&self) -> Option<&str> {
        const TOC_TITLES: [&str; 5] = ["目录", "目錄", "contents", "tableofcontents", "toc"];
        self.headings
            .iter()
            .filter(|h| h.level == 1 && !TOC_TITLES.contains(&near_key(&h.text).as_str()))
            .map(|h| h.text.as_str())
            .next()
    }

    /// The sub-questions an `outline` answer lists, in order: its headings, and its lines that
    /// ask a question or are numbered, without list markers.
    pub fn sub_questions(&self, q: &Question, rules: &Rules) -> Vec<String> {
        let range = q.answer.clone();
        let first = self.headings.partition_point(|h| h.range.start < range.start);
        let mut headings = self.headings[first..]
            .iter()
            .take_while(|h| h.range.start < range.end)
            .peekable();
        let (mut items, mut offset, mut heading_end) = (Vec::new(), range.start, 0);
        for line in self.text[range.clone()].split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            if let Some(h) = headings.next_if(|h| h.range.start < offset) {
                items.push(h.text.clone());
                heading_end = h.range.end;
                continue;
            }
            // The other lines of a setext or multi-line HTML heading.
            if start < heading_end {
                continue;
            }
            let line = line.trim();
            if matches!(rules.line_kind(line), LineKind::Outline | LineKind::Numbered) {
                let bare = line.trim_start_matches(['-', '*', '+']).trim_start();
                items.push(bare.to_owned());
            }
        }
        items
    }

    /// A question as a gap of `kind`: for an answered one, to draft a new version of it.
    pub fn as_gap(&self, q: &'a Question, kind: GapKind) -> Gap<'_> {
        let h = self.heading(q);
        Gap {
            kind,
            index: q.index,
            line: h.line,
            level: h.level,
            anchor: h.anchor(),
            text: &h.text,
            question: Some(q),
        }
    }

    /// Every gap in document order, then the table-of-contents entries with no section, which
    /// are numbered after the last question.
    pub fn gaps(&self) -> impl Iterator<Item = Gap<'_>> {
        let present = self
            .questions
            .iter()
            .filter_map(move |q| q.gap.map(|kind| self.as_gap(q, kind)));
        let missing = self
            .toc
            .iter()
            .filter(|t| t.resolution == Resolution::Unresolved && !t.struck)
            .enumerate()
            .map(move |(k, t)| Gap {
                kind: GapKind::Missing,
                index: self.questions.len() + k + 1,
                line: t.line,
                level: 0,
                anchor: &t.anchor,
                text: &t.text,
                question: None,
            });
        present.chain(missing)
    }
}

/// A blank line or a thematic break (`---`, `* * *`).
pub fn is_break_line(line: &str) -> bool {
    let t = line.trim();
    let mut chars = t.chars().filter(|c| !c.is_whitespace());
    let Some(first) = chars.next() else { return true };
    matches!(first, '-' | '*' | '_') && t.chars().filter(|&c| c == first).count() >= 3 && chars.all(|c| c == first)
}

#[cfg(test)]
mod tests;
