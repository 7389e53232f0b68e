//! The chapter model shared by every stage: which headings are questions, where each answer
//! begins and ends, what the table of contents links to, and which answers are gaps.
//!
//! [`Chapter::parse`] reads the text once with pulldown-cmark and keeps byte offsets into it; it
//! never changes a byte, so later stages can splice answers into the original text.

mod anchor;
pub mod html;
pub mod links;
mod rules;

use crate::text::visible_chars;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use regex::Regex;
use serde::Serialize;

pub use anchor::{decode_target, near_key, slug};
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
}

/// One heading of the chapter, in any style.
#[derive(Debug, Clone)]
pub struct Heading {
    pub level: u8,
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
    pub text: String,
    /// The link target as written (`#q-001`, or `q-001` with the `#` dropped).
    pub target: String,
    /// The anchor it points at: decoded, without `#` and GitHub's `user-content-` prefix.
    pub anchor: String,
    pub line: usize,
    pub offset: usize,
    pub heading: Option<usize>,
    pub resolution: Resolution,
    /// Struck through (`[~~…~~](#…)`): the author took the question out; never a gap.
    pub struck: bool,
}

/// A link or image anywhere in the chapter. Borrows from the text where it can: chapters
/// have thousands of links.
#[derive(Debug, Clone)]
pub struct Link<'a> {
    pub dest: Cow<'a, str>,
    /// Link text, or an image's alt text.
    pub text: Cow<'a, str>,
    pub image: bool,
    pub line: usize,
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
    pub const ALL: [GapKind; 6] = [
        GapKind::Empty,
        GapKind::Placeholder,
        GapKind::MetadataOnly,
        GapKind::Stub,
        GapKind::Outline,
        GapKind::Missing,
    ];

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
    Item { indent: usize },
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
    pub gap: Option<GapKind>,
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
    pub kind: GapKind,
    pub index: usize,
    pub line: usize,
    /// 0 for a missing entry, which has no heading.
    pub level: u8,
    pub anchor: &'c str,
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

/// A parsed chapter. Offsets are byte offsets into the text given to [`Chapter::parse`],
/// BOM included.
#[derive(Debug)]
pub struct Chapter<'a> {
    text: &'a str,
    pub headings: Vec<Heading>,
    pub toc: Vec<TocEntry>,
    pub questions: Vec<Question>,
    pub links: Vec<Link<'a>>,
    /// Byte ranges of tables, for the lint that counts their columns.
    pub tables: Vec<Range<usize>>,
    blocks: Vec<Block>,
    details: Vec<Details>,
    /// A `<details>` answer block of this chapter, as text before and after its answer: the
    /// form a merge gives a question that has none.
    details_form: Option<(Range<usize>, Range<usize>)>,
    line_starts: Vec<usize>,
}

impl<'a> Chapter<'a> {
    /// Parses a chapter. Never fails and never panics: any text is some chapter.
    pub fn parse(text: &'a str, rules: &Rules) -> Chapter<'a> {
        let mut c = Chapter {
            text,
            headings: Vec::new(),
            toc: Vec::new(),
            questions: Vec::new(),
            links: Vec::new(),
            tables: Vec::new(),
            blocks: Vec::new(),
            details: Vec::new(),
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

    /// One pass over pulldown-cmark's events: headings, links, and a summary of each block.
    fn scan_events(&mut self) {
        let text = self.text;
        // pulldown-cmark does not skip a byte-order mark; offsets are shifted back below.
        let base = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let parser = Parser::new_ext(&text[base..], parser_options()).into_offset_iter();

        let mut depth = 0usize;
        let mut lists = 0usize;
        let mut struck = 0usize;
        let mut table_depth = 0usize;
        // Open list items: (depth of their children, no child seen yet, heading they open).
        let mut items: Vec<(usize, bool, Option<usize>)> = Vec::new();
        // Open `<details>` blocks, as indices into `self.details`.
        let mut open_details: Vec<usize> = Vec::new();
        let mut block: Option<Block> = None;
        let mut heading: Option<OpenHeading> = None;
        let mut open_links: Vec<OpenLink<'a>> = Vec::new();

        for (event, range) in parser {
            let range = range.start + base..range.end + base;
            // A heading that is an item's first child heads that item.
            let mut item_heading = false;
            if let Some(item) = items.last_mut()
                && item.1
                && depth == item.0
                && !matches!(event, Event::End(_))
            {
                item.1 = false;
                item_heading = matches!(event, Event::Start(Tag::Heading { .. }));
            }
            match event {
                Event::Start(tag) => {
                    if depth == 0 {
                        let kind = match &tag {
                            Tag::Paragraph | Tag::List(_) | Tag::BlockQuote(_) | Tag::Heading { .. } => BlockKind::Text,
                            Tag::HtmlBlock => BlockKind::Html,
                            _ => BlockKind::Solid,
                        };
                        block = Some(Block {
                            kind,
                            range: range.clone(),
                            prose: 0,
                            links: 0,
                            images: 0,
                        });
                    }
                    match tag {
                        Tag::Heading { level, id, .. } if depth == 0 || item_heading => {
                            // `{#id}` after an ATX heading, as pandoc and kramdown write it.
                            let ids = id.map(|id| id.into_string()).into_iter().collect();
                            heading = Some(OpenHeading {
                                depth,
                                level: level as u8,
                                range: range.clone(),
                                text: String::new(),
                                ids,
                                plain: 0,
                            });
                        }
                        Tag::List(_) => lists += 1,
                        Tag::Item => items.push((depth + 1, true, None)),
                        Tag::Table(_) => table_depth += 1,
                        Tag::Strikethrough => struck += 1,
                        Tag::Link { dest_url, .. } => open_links.push(OpenLink {
                            dest: dest_url.into(),
                            text: Cow::Borrowed(""),
                            image: false,
                            offset: range.start,
                            in_strike: struck > 0,
                            struck_chars: 0,
                            plain_chars: 0,
                        }),
                        Tag::Image { dest_url, .. } => {
                            open_links.push(OpenLink {
                                dest: dest_url.into(),
                                text: Cow::Borrowed(""),
                                image: true,
                                offset: range.start,
                                in_strike: struck > 0,
                                struck_chars: 0,
                                plain_chars: 0,
                            });
                            if let Some(b) = block.as_mut() {
                                b.images += 1;
                            }
                        }
                        _ => {}
                    }
                    depth += 1;
                }
                Event::End(end) => {
                    depth = depth.saturating_sub(1);
                    match &end {
                        TagEnd::List(_) => lists = lists.saturating_sub(1),
                        TagEnd::Item => {
                            if let Some((_, _, Some(h))) = items.pop() {
                                self.headings[h].scope_end = Some(range.end);
                            }
                            // A `</details>` lost in the item (inside a code block) would
                            // otherwise take the rest of the file into the block.
                            while let Some(&d) = open_details.last().filter(|&&d| self.details[d].items > items.len()) {
                                open_details.pop();
                                self.close_details(d, range.end, range.end);
                            }
                        }
                        TagEnd::Strikethrough => struck = struck.saturating_sub(1),
                        TagEnd::Link | TagEnd::Image => {
                            if let Some(OpenLink {
                                dest,
                                text: link_text,
                                image,
                                offset,
                                in_strike,
                                struck_chars,
                                plain_chars,
                            }) = open_links.pop()
                            {
                                let struck_inside = struck_chars > 0 && plain_chars == 0;
                                if let Some(b) = block.as_mut() {
                                    b.links += usize::from(!image);
                                }
                                if let Some(h) = heading.as_mut() {
                                    h.text.push_str(&link_text);
                                }
                                if let Some(outer) = open_links.last_mut() {
                                    outer.text.to_mut().push_str(&link_text);
                                }
                                self.links.push(Link {
                                    dest,
                                    text: match link_text {
                                        Cow::Borrowed(t) => Cow::Borrowed(t.trim()),
                                        Cow::Owned(t) => Cow::Owned(t.trim().to_owned()),
                                    },
                                    image,
                                    line: self.line_of(offset),
                                    offset,
                                    in_list: lists > 0,
                                    struck: in_strike || struck_inside,
                                    in_table: table_depth > 0,
                                    in_heading: heading.is_some(),
                                    alone: false,
                                });
                            }
                        }
                        TagEnd::Heading(_) if heading.as_ref().is_some_and(|h| h.depth == depth) => {
                            if let Some(h) = heading.take() {
                                let hrange = h.range;
                                let link_target = (h.plain == 0)
                                    .then(|| self.links.last())
                                    .flatten()
                                    .filter(|l| l.in_heading && !l.image && l.offset >= hrange.start)
                                    .map(|l| l.dest.to_string());
                                let style = if text[hrange.start..].trim_start_matches(' ').starts_with('#') {
                                    HeadingStyle::Atx
                                } else {
                                    HeadingStyle::Setext
                                };
                                self.push_heading(
                                    h.level,
                                    style,
                                    hrange.clone(),
                                    hrange.clone(),
                                    h.text,
                                    h.ids,
                                    link_target,
                                );
                                let index = self.headings.len() - 1;
                                self.headings[index].nested = !open_details.is_empty();
                                if depth == 0 {
                                    if let Some(b) = block.as_mut() {
                                        b.kind = BlockKind::Heading(index);
                                    }
                                } else if let Some(item) = items.last_mut() {
                                    item.2 = Some(index);
                                    self.headings[index].item_indent =
                                        Some(hrange.start - self.line_start(hrange.start));
                                }
                            }
                        }
                        TagEnd::HtmlBlock if depth == 0 => {
                            if let Some(b) = &block {
                                self.html_headings(b.range.clone());
                            }
                        }
                        TagEnd::Table => {
                            table_depth = table_depth.saturating_sub(1);
                            if depth == 0 {
                                self.tables.push(range.clone());
                            }
                        }
                        _ => {}
                    }
                    if depth == 0
                        && let Some(mut b) = block.take()
                    {
                        if end == TagEnd::Paragraph
                            && b.prose == 0
                            && b.links == 1
                            && let Some(l) = self.links.last_mut().filter(|l| l.offset >= range.start)
                        {
                            l.alone = true;
                        }
                        b.range = range;
                        self.blocks.push(b);
                    }
                }
                Event::Text(t) | Event::Code(t) | Event::InlineMath(t) => {
                    if let Some(link) = open_links.last_mut() {
                        let n = visible_chars(&t);
                        if struck > 0 {
                            link.struck_chars += n;
                        } else {
                            link.plain_chars += n;
                        }
                        if link.text.is_empty() {
                            link.text = t.into();
                        } else {
                            link.text.to_mut().push_str(&t);
                        }
                    } else {
                        if let Some(h) = heading.as_mut() {
                            h.text.push_str(&t);
                            h.plain += visible_chars(&t);
                        }
                        if let Some(b) = block.as_mut() {
                            b.prose += visible_chars(&t);
                        }
                    }
                }
                Event::DisplayMath(_) => {
                    if let Some(b) = block.as_mut() {
                        b.kind = BlockKind::Solid;
                    }
                }
                Event::SoftBreak | Event::HardBreak => {
                    if let Some(h) = heading.as_mut() {
                        h.text.push(' ');
                    }
                }
                Event::Html(_) => self.details_tags(range, &mut open_details, lists > 0, items.len()),
                Event::InlineHtml(t) => {
                    self.details_tags(range.clone(), &mut open_details, lists > 0, items.len());
                    if let Some(h) = heading.as_mut()
                        && let Some(id) = html::first_anchor(&t)
                    {
                        h.ids.push(id);
                    }
                    if html::contains_image(&t)
                        && let Some(b) = block.as_mut()
                    {
                        b.images += 1;
                    }
                }
                Event::Rule if depth == 0 => self.blocks.push(Block {
                    kind: BlockKind::Rule,
                    range,
                    prose: 0,
                    links: 0,
                    images: 0,
                }),
                _ => {}
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_heading(
        &mut self,
        level: u8,
        style: HeadingStyle,
        range: Range<usize>,
        unit_from: Range<usize>,
        text: String,
        ids: Vec<String>,
        link_target: Option<String>,
    ) {
        let last = range.end.max(range.start + 1) - 1;
        let unit = self.line_start(unit_from.start)..self.line_end(last.min(self.text.len().saturating_sub(1)));
        self.headings.push(Heading {
            level,
            style,
            line: self.line_of(range.start),
            range,
            unit,
            text: html::fold_whitespace(text),
            ids,
            slug: String::new(),
            link_target,
            item_indent: None,
            scope_end: None,
            nested: false,
        });
    }

    /// The `<details>`, `<summary>` and `</details>` tags of the HTML at `range`: opens and
    /// closes blocks, and makes each block's `<summary>` a heading.
    fn details_tags(&mut self, range: Range<usize>, open: &mut Vec<usize>, in_list: bool, items: usize) {
        static TAG: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"(?i)<(/?)(details|summary)(?:\s[^>]*)?>").expect("valid"));
        static SUMMARY_END: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)</summary\s*>").expect("valid"));
        let text = self.text;
        for m in TAG.captures_iter(&text[range.clone()]) {
            let whole = m.get(0).expect("group 0");
            let (at, end) = (range.start + whole.start(), range.start + whole.end());
            let closing = !m[1].is_empty();
            match (closing, m[2].eq_ignore_ascii_case("details")) {
                (false, true) => {
                    open.push(self.details.len());
                    self.details.push(Details {
                        open: at,
                        open_end: end,
                        open_line_end: self.line_end(at),
                        summary: None,
                        body_end: text.len(),
                        close_line_end: text.len(),
                        nested: in_list || open.len() > 1,
                        items,
                    });
                }
                (true, true) => {
                    let Some(d) = open.pop() else { continue };
                    let line_start = self.line_start(at);
                    let body_end = if text[line_start..at].trim().is_empty() {
                        line_start
                    } else {
                        at
                    };
                    self.close_details(d, body_end, self.line_end(at));
                }
                (false, false) => {
                    let Some(&d) = open.last() else { continue };
                    if self.details[d].summary.is_some() {
                        continue;
                    }
                    // A summary is short: look for its end nearby, never past a character.
                    let mut cut = (end + 8192).min(text.len());
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    let window = &text[end..cut];
                    let Some(close) = SUMMARY_END.find(window) else {
                        continue;
                    };
                    let summary_end = end + close.end();
                    let own = html::fold_whitespace(html::inner_text(&window[..close.start()]));
                    if own.is_empty() {
                        continue;
                    }
                    let opened = &self.details[d];
                    let unit_start = if html::is_blank(&text[opened.open_end..at]) {
                        self.line_start(opened.open)
                    } else {
                        self.line_start(at)
                    };
                    let line_end = self.line_end(summary_end.saturating_sub(1)).max(summary_end);
                    let unit_end = if html::inner_text(&text[summary_end..line_end]).trim().is_empty() {
                        line_end
                    } else {
                        summary_end
                    };
                    let level = self
                        .headings
                        .iter()
                        .rev()
                        .find(|h| h.style != HeadingStyle::Summary)
                        .map_or(1, |h| (h.level + 1).min(6));
                    self.details[d].summary = Some(at);
                    self.headings.push(Heading {
                        level,
                        style: HeadingStyle::Summary,
                        range: at..summary_end,
                        unit: unit_start..unit_end,
                        line: self.line_of(at),
                        text: own,
                        ids: Vec::new(),
                        slug: String::new(),
                        link_target: None,
                        item_indent: None,
                        scope_end: None,
                        nested: open.len() > 1,
                    });
                }
                (true, false) => {}
            }
        }
    }

    /// Ends `<details>` block `d`: its content at `body_end`, its last line at `line_end`.
    fn close_details(&mut self, d: usize, body_end: usize, line_end: usize) {
        let details = &mut self.details[d];
        details.body_end = body_end;
        details.close_line_end = line_end;
        if let Some(s) = details.summary
            && let Some(h) = self.headings.iter().rposition(|h| h.range.start == s)
        {
            self.headings[h].scope_end = Some(body_end);
        }
    }

    /// Headings written as HTML inside a raw HTML block.
    fn html_headings(&mut self, block: Range<usize>) {
        let source = &self.text[block.clone()];
        if !source.contains("<h") && !source.contains("<H") {
            return;
        }
        let mut previous_end = 0;
        for h in html::headings(source) {
            let start = block.start + h.start;
            // Opening wrappers (`<div align="center">`) before the heading belong to it.
            let before = &source[previous_end..h.start];
            let line_start = self.line_start(start);
            let unit_from = if previous_end == 0 && html::is_blank(before) {
                block.start
            } else {
                line_start
            };
            self.push_heading(
                h.level,
                HeadingStyle::Html,
                start..block.start + h.end,
                unit_from..start,
                h.text,
                h.id.into_iter().collect(),
                None,
            );
            previous_end = h.end;
        }
    }

    /// An `<a id="…"></a>` alone on the line before a heading (blank lines allowed between)
    /// names that heading, and belongs to its unit.
    fn attach_anchor_lines(&mut self) {
        for i in 0..self.headings.len() {
            let mut line = self.line_of(self.headings[i].unit.start);
            let floor = if i == 0 { 0 } else { self.headings[i - 1].unit.end };
            while line > 1 {
                let start = self.line_starts[line - 2];
                if start < floor {
                    break;
                }
                let content = &self.text[start..self.line_starts[line - 1]];
                if content.trim().is_empty() {
                    line -= 1;
                    continue;
                }
                let indent = content.len() - content.trim_start_matches(' ').len();
                if let Some(id) = html::anchor_line(content).filter(|_| indent < 4) {
                    let h = &mut self.headings[i];
                    h.ids.push(id);
                    h.unit.start = start;
                }
                break;
            }
        }
    }

    /// GitHub numbers repeated slugs `x`, `x-1`, `x-2`, … A `<summary>` gets no anchor on
    /// GitHub: its slug, numbered after the headings', only names the question here.
    fn assign_slugs(&mut self) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for summaries in [false, true] {
            for h in self
                .headings
                .iter_mut()
                .filter(|h| (h.style == HeadingStyle::Summary) == summaries)
            {
                let base = slug(&h.text);
                let n = seen.entry(base.clone()).or_insert(0);
                h.slug = if *n == 0 { base } else { format!("{base}-{n}") };
                *n += 1;
            }
        }
    }

    /// Finds the table of contents and resolves its links. Returns where it ends: the first
    /// heading that an earlier list link points at (0, no table of contents, without one).
    fn find_toc(&mut self) -> usize {
        let mut candidates: Vec<usize> = (0..self.links.len())
            .filter(|&i| {
                let l = &self.links[i];
                let local =
                    l.dest.starts_with('#') || !(l.dest.contains(':') || l.dest.contains('/') || l.dest.is_empty());
                !l.image && local && (l.in_list || l.in_heading || l.alone || l.in_table)
            })
            .collect();
        if candidates.is_empty() {
            return 0;
        }
        let index = AnchorIndex::new(&self.headings);
        let mut resolved: Vec<(Option<usize>, Resolution)> =
            candidates.iter().map(|&i| index.resolve(&self.links[i])).collect();
        // A link repeated after the heading it points at (`⬆ Back to Top` after every
        // question) is navigation: a table of contents names each section once, before it.
        // A cross-reference repeats too, but its first use, in the table of contents, points
        // forward.
        let mut uses: HashMap<&str, (usize, bool)> = HashMap::new();
        for (&i, (h, _)) in candidates.iter().zip(&resolved) {
            let l = &self.links[i];
            let u = uses.entry(l.dest.as_ref()).or_default();
            u.0 += 1;
            u.1 |= h.is_some_and(|h| self.headings[h].range.start > l.offset);
        }
        let navigation: HashSet<&str> = uses
            .into_iter()
            .filter(|&(_, (n, forward))| n >= NAVIGATION_REPEATS && !forward)
            .map(|(d, _)| d)
            .collect();
        if !navigation.is_empty() {
            let keep: Vec<bool> = candidates
                .iter()
                .map(|&i| !navigation.contains(self.links[i].dest.as_ref()))
                .collect();
            let mut k = keep.iter();
            candidates.retain(|_| *k.next().expect("one per candidate"));
            let mut k = keep.iter();
            resolved.retain(|_| *k.next().expect("one per candidate"));
        }
        let heading_is_link = |h: usize| self.headings[h].link_target.is_some();
        let first_target = candidates
            .iter()
            .zip(&resolved)
            .filter_map(|(&i, (h, _))| {
                let h = (*h)?;
                (!heading_is_link(h) && self.headings[h].range.start > self.links[i].offset)
                    .then_some(self.headings[h].unit.start)
            })
            .min();
        for (&i, (heading, resolution)) in candidates.iter().zip(resolved) {
            let l = &self.links[i];
            // Links after the table of contents are cross-references inside answers; a link
            // without `#` is a table-of-contents entry only when it names a heading.
            if first_target.is_some_and(|end| l.offset >= end) || (!l.dest.starts_with('#') && heading.is_none()) {
                continue;
            }
            self.toc.push(TocEntry {
                text: l.text.to_string(),
                target: l.dest.to_string(),
                anchor: decode_target(&l.dest).into_owned(),
                line: l.line,
                offset: l.offset,
                heading,
                resolution,
                struck: l.struck,
            });
        }
        self.resolve_by_order();
        // The table of contents ends at the first heading after its last entry; without a
        // forward link every list link is an entry, and no heading is skipped.
        let (Some(_), Some(last)) = (first_target, self.toc.last()) else {
            return 0;
        };
        self.headings
            .iter()
            .find(|h| h.link_target.is_none() && h.range.start > last.offset)
            .map_or(self.text.len(), |h| h.unit.start)
    }

    /// Entries that match nothing, between two that resolve: when as many headings like their
    /// neighbours' stand between those two with no entry of their own, the questions were
    /// renamed after the table of contents was written, and the entries name them in order.
    fn resolve_by_order(&mut self) {
        let unresolved = |t: &TocEntry| t.resolution == Resolution::Unresolved && !t.struck;
        if !self.toc.iter().any(unresolved) {
            return;
        }
        let listed: HashSet<usize> = self.toc.iter().filter_map(|t| t.heading).collect();
        let mut i = 0;
        while i < self.toc.len() {
            if !unresolved(&self.toc[i]) {
                i += 1;
                continue;
            }
            let run = i;
            while i < self.toc.len() && unresolved(&self.toc[i]) {
                i += 1;
            }
            // The neighbours that have a heading; struck entries in between stand for
            // questions taken out.
            let gone = |t: &TocEntry| t.struck && t.heading.is_none();
            let prev = self.toc[..run].iter().rev().find(|t| !gone(t)).and_then(|t| t.heading);
            let next = self.toc[i..].iter().find(|t| !gone(t)).and_then(|t| t.heading);
            let (Some(prev), Some(next)) = (prev, next) else {
                continue;
            };
            let like = &self.headings[prev];
            let between: Vec<usize> = (prev + 1..next)
                .filter(|&h| {
                    let h2 = &self.headings[h];
                    !listed.contains(&h)
                        && h2.link_target.is_none()
                        && h2.level == like.level
                        && h2.item_indent.is_some() == like.item_indent.is_some()
                })
                .collect();
            if between.len() == i - run {
                for (t, h) in self.toc[run..i].iter_mut().zip(between) {
                    t.heading = Some(h);
                    t.resolution = Resolution::Order;
                }
            }
        }
    }

    /// A heading of the chapter's own outline: not a `<summary>`, not inside a `<details>`
    /// block or a list item, not a link.
    fn is_section(h: &Heading) -> bool {
        h.style != HeadingStyle::Summary && !h.nested && h.item_indent.is_none() && h.link_target.is_none()
    }

    /// The heading of a `<summary>` at `offset`.
    fn summary_heading(&self, offset: usize) -> Option<&Heading> {
        let i = self.headings.partition_point(|h| h.range.start < offset);
        self.headings.get(i).filter(|h| h.range.start == offset)
    }

    /// For each heading, the `<details>` block that holds its answer, at the levels whose
    /// headings keep their answers so (at least three, and four in five of that level's
    /// headings); and those levels. The block is the last thing of the heading's section
    /// (rules and navigation aside), and its summary does not ask a question itself.
    fn answer_boxes(&self, rules: &Rules) -> (Vec<Option<usize>>, [bool; 7]) {
        let mut found = vec![None; self.headings.len()];
        let mut levels = [false; 7];
        if self.details.is_empty() {
            return (found, levels);
        }
        let sections: Vec<usize> = (0..self.headings.len())
            .filter(|&h| Self::is_section(&self.headings[h]))
            .collect();
        let mut counts = [(0usize, 0usize); 7];
        let mut first = 0;
        for (k, &h) in sections.iter().enumerate() {
            let heading = &self.headings[h];
            let (from, to) = (
                heading.unit.end,
                sections
                    .get(k + 1)
                    .map_or(self.text.len(), |&n| self.headings[n].unit.start),
            );
            first += self.details[first..].partition_point(|d| d.open < from);
            let level = usize::from(heading.level.min(6));
            counts[level].0 += 1;
            let block = self.details[first..]
                .iter()
                .enumerate()
                .take_while(|(_, d)| d.open < to)
                .find(|(_, d)| {
                    let asks = d
                        .summary
                        .and_then(|s| self.summary_heading(s))
                        .is_some_and(|s| asks(&s.text, rules));
                    !d.nested
                        && !asks
                        && d.close_line_end <= to
                        && self.text[d.close_line_end..to].lines().all(is_separator_line)
                });
            if let Some((i, _)) = block {
                counts[level].1 += 1;
                found[h] = Some(first + i);
            }
        }
        for (level, &(all, boxed)) in counts.iter().enumerate() {
            levels[level] = boxed >= 3 && boxed * 5 >= all * 4;
        }
        for (h, f) in found.iter_mut().enumerate() {
            if !levels[usize::from(self.headings[h].level.min(6))] {
                *f = None;
            }
        }
        (found, levels)
    }

    /// Whether the chapter asks its questions in `<summary>`s: at least three summaries outside
    /// any question's section and answer blocks, half of which ask. Then every such summary is
    /// a question (`Explain …`), and headings only label groups of them.
    fn summaries_ask(&self, rules: &Rules, boxes: &HashSet<usize>, in_toc: &[Option<usize>]) -> bool {
        let (mut seen, mut asking, mut under_question) = (0, 0, false);
        for (h, heading) in self.headings.iter().enumerate() {
            if Self::is_section(heading) {
                under_question = in_toc[h].is_some() || asks(&heading.text, rules);
            } else if heading.style == HeadingStyle::Summary
                && !heading.nested
                && !under_question
                && !boxes.contains(&heading.range.start)
                && !rules.summary_label.is_match(&heading.text)
            {
                seen += 1;
                asking += usize::from(asks(&heading.text, rules));
            }
        }
        seen >= 3 && asking * 2 >= seen
    }

    /// The headings that are questions written as statements (`My macOS apps don't find
    /// Homebrew utilities`): at a level where nearly every heading asks (at least eight, nine
    /// in ten), one that stands between two asking headings of that level. A summary or a
    /// reference list after the last question stays what it is.
    fn statement_questions(&self, rules: &Rules, in_toc: &[Option<usize>]) -> Vec<bool> {
        let mut statements = vec![false; self.headings.len()];
        // Per level, the headings in order with whether each asks.
        let mut levels: [Vec<(usize, bool)>; 7] = Default::default();
        for (h, heading) in self.headings.iter().enumerate() {
            let text = question_text(&heading.text);
            if !Self::is_section(heading) || text.is_empty() || rules.structural.is_match(text) {
                continue;
            }
            levels[usize::from(heading.level.min(6))].push((h, in_toc[h].is_some() || asks(text, rules)));
        }
        for level in &levels {
            let asking = level.iter().filter(|(_, a)| *a).count();
            if level.len() < 8 || asking == level.len() || asking * 10 < level.len() * 9 {
                continue;
            }
            for w in level.windows(3) {
                if w[0].1 && !w[1].1 && w[2].1 {
                    statements[w[1].0] = true;
                }
            }
        }
        statements
    }

    /// Decides which headings are questions and where their answers end.
    fn find_questions(&mut self, toc_end: usize, rules: &Rules) {
        // The first table-of-contents entry linking to each heading.
        let mut in_toc: Vec<Option<usize>> = vec![None; self.headings.len()];
        for (i, t) in self.toc.iter().enumerate().rev() {
            if let Some(h) = t.heading {
                in_toc[h] = Some(i);
            }
        }
        let (boxes, boxed_levels) = self.answer_boxes(rules);
        let box_summaries: HashSet<usize> = boxes
            .iter()
            .flatten()
            .filter_map(|&d| self.details[d].summary)
            .collect();
        let summaries_ask = self.summaries_ask(rules, &box_summaries, &in_toc);
        let statements = if summaries_ask {
            Vec::new()
        } else {
            self.statement_questions(rules, &in_toc)
        };
        // Open questions, outermost first: (question index, level, has a child question).
        let mut stack: Vec<(usize, u8, bool)> = Vec::new();
        // The question whose answer is still open.
        let mut open: Option<usize> = None;

        #[allow(clippy::needless_range_loop)] // `self` is mutated inside the loop.
        for h in 0..self.headings.len() {
            let heading = &self.headings[h];
            if heading.link_target.is_some() || heading.nested || heading.unit.start < toc_end && in_toc[h].is_none() {
                continue;
            }
            let (level, start, text) = (heading.level, heading.unit.start, question_text(&heading.text));
            // A list item's answer may also stand after the item (see `narrow_to_item`).
            let scope = heading.scope_end.filter(|_| heading.item_indent.is_none());
            let end = scope.unwrap_or(self.text.len()).max(heading.unit.end);
            if heading.style == HeadingStyle::Summary {
                // A follow-up question inside an answer, or one of a bank of `<details>`.
                if rules.summary_label.is_match(text)
                    || box_summaries.contains(&heading.range.start)
                    || !(summaries_ask || asks(text, rules))
                {
                    continue;
                }
                let answer = heading.unit.end..end;
                let closed = heading.scope_end.is_some();
                self.push_question(h, answer, in_toc[h], Holder::Summary, &mut stack, &mut open);
                // An unclosed block runs to the next question.
                if closed {
                    open = None;
                }
                continue;
            }
            // In a bank of `<summary>` questions, headings only label groups.
            let linked = in_toc[h].is_some() && !summaries_ask;
            let boxed = boxed_levels[usize::from(level.min(6))] && heading.item_indent.is_none() && !text.is_empty();
            let strong = linked || boxed || rules.strong.is_match(text);
            let weak = !strong && (rules.question.is_match(text) || statements.get(h).copied().unwrap_or(false));
            let structural = (strong || weak) && rules.structural.is_match(text);
            let (strong, weak) = (strong && !structural, weak && !structural);

            let is_question = strong
                || weak && {
                    // Deeper than the open question: a sub-question only when that question is a
                    // group (it has sub-questions, or nothing written before this heading);
                    // otherwise a numbered sub-heading of its answer.
                    let parent = stack.iter().rev().find(|&&(_, l, _)| l < level);
                    match parent {
                        None | Some(&(_, _, true)) => true,
                        Some(&(q, _, false)) => {
                            // "### 24、" after "## 23、" continues the numbering: a question
                            // written one level too deep.
                            let previous = self.questions.last().map(|p| self.headings[p.heading].text.as_str());
                            let continues = matches!(
                                (previous.and_then(leading_number), leading_number(text)),
                                (Some(p), Some(n)) if n == p + 1
                            );
                            let body = self.headings[self.questions[q].heading].unit.end..start;
                            continues || self.classify(body, rules) == Some(GapKind::Empty)
                        }
                    }
                };

            if is_question {
                while stack.last().is_some_and(|&(_, l, _)| l >= level) {
                    stack.pop();
                }
                let holder = match heading.item_indent {
                    Some(indent) => Holder::Item { indent },
                    None if boxed => Holder::Details,
                    None => Holder::Section,
                };
                let answer = heading.unit.end..end;
                self.push_question(h, answer, in_toc[h], holder, &mut stack, &mut open);
                stack.push((self.questions.len() - 1, level, false));
            } else if let Some(q) = open.filter(|&q| level < self.headings[self.questions[q].heading].level) {
                // A higher-ranked heading that is no question ends the answer.
                let a = &mut self.questions[q].answer;
                a.end = a.end.min(start);
                open = None;
                while stack.last().is_some_and(|&(_, l, _)| l >= level) {
                    stack.pop();
                }
            }
        }
        for q in 0..self.questions.len() {
            match self.questions[q].holder {
                Holder::Details => self.place_in_box(q, boxes[self.questions[q].heading]),
                Holder::Item { .. } => self.narrow_to_item(q),
                _ => {}
            }
            let question = &self.questions[q];
            let gap = match question.holder {
                Holder::Section => self.classify(question.answer.clone(), rules),
                _ if question.unboxed => Some(GapKind::Empty),
                _ => self.classify_apart(question, rules),
            };
            // A parent question with text of its own is answered; without, it is a group.
            let q = &mut self.questions[q];
            q.group &= gap.is_some();
            q.gap = if q.group { None } else { gap };
        }
    }

    /// Adds the question of heading `h`: the innermost open question becomes its parent
    /// group, the answer still open ends where this one starts, and this answer is open.
    fn push_question(
        &mut self,
        h: usize,
        answer: Range<usize>,
        toc: Option<usize>,
        holder: Holder,
        stack: &mut [(usize, u8, bool)],
        open: &mut Option<usize>,
    ) {
        if let Some(parent) = stack.last_mut() {
            parent.2 = true;
            self.questions[parent.0].group = true;
        }
        if let Some(q) = open.take() {
            let a = &mut self.questions[q].answer;
            a.end = a.end.min(self.headings[h].unit.start);
        }
        self.questions.push(Question {
            heading: h,
            index: self.questions.len() + 1,
            answer,
            group: false,
            toc,
            gap: None,
            holder,
            stem: None,
            unboxed: false,
        });
        *open = Some(self.questions.len() - 1);
    }

    /// A list-item question's answer is the rest of its item and what follows the item up to
    /// the next question: an answer's text indented less than the item (`   For example`
    /// under `21. ### …`) still belongs to it. Separators after the item (`⬆ Back to Top`)
    /// do not.
    fn narrow_to_item(&mut self, q: usize) {
        let Some(item_end) = self.headings[self.questions[q].heading].scope_end else {
            return;
        };
        let answer = &mut self.questions[q].answer;
        let floor = item_end.clamp(answer.start, answer.end);
        let mut end = answer.end;
        for line in self.text[floor..answer.end].split_inclusive('\n').rev() {
            if !is_separator_line(line) {
                break;
            }
            end -= line.len();
        }
        answer.end = end;
    }

    /// Narrows a [`Holder::Details`] question's answer to the content of its `<details>`
    /// block; without one, to the empty place after its stem where one goes.
    fn place_in_box(&mut self, q: usize, block: Option<usize>) {
        let section = self.questions[q].answer.clone();
        let block = block.map(|d| &self.details[d]).filter(|d| d.open < section.end);
        let (stem_end, answer) = match block {
            Some(d) => {
                let body_start = d
                    .summary
                    .and_then(|s| self.summary_heading(s))
                    .map_or(d.open_line_end, |s| s.unit.end);
                let body = self.unwrap_lines(body_start..d.body_end.max(body_start));
                let form = (self.line_start(d.open)..body.start, body.end..d.close_line_end);
                self.details_form.get_or_insert(form);
                (self.line_start(d.open), body)
            }
            None => {
                let text = &self.text[section.clone()];
                let mut keep = text.len();
                for line in text.split_inclusive('\n').rev() {
                    if !is_separator_line(line) {
                        break;
                    }
                    keep -= line.len();
                }
                let at = section.start + keep;
                (at, at..at)
            }
        };
        let stem = section.start..stem_end.max(section.start);
        let question = &mut self.questions[q];
        question.unboxed = block.is_none();
        question.stem = (!self.text[stem.clone()].trim().is_empty()).then_some(stem);
        question.answer = answer;
    }

    /// `range` without the lines of wrapper tags around its content (`<p>` first, `</p>`
    /// last, as `lydiahallie/javascript-questions` writes them): they belong to the block's
    /// form, not to the answer.
    fn unwrap_lines(&self, range: Range<usize>) -> Range<usize> {
        let wrapper = |line: &str, closing: bool| {
            let t = line.trim();
            t.starts_with('<') && t[1..].starts_with('/') == closing && html::is_blank(t)
        };
        let (mut start, mut end) = (range.start, range.end);
        let mut at = start;
        for line in self.text[range.clone()].split_inclusive('\n') {
            at += line.len();
            if wrapper(line, false) {
                start = at;
            } else if !line.trim().is_empty() {
                break;
            }
        }
        let mut at = end;
        for line in self.text[start..range.end].split_inclusive('\n').rev() {
            at -= line.len();
            if wrapper(line, true) {
                end = at;
            } else if !line.trim().is_empty() {
                break;
            }
        }
        start..end.max(start)
    }

    /// Classifies an answer that does not stand at the top level of the chapter (inside a
    /// list item or a `<details>` block) by parsing it as Markdown of its own.
    fn classify_apart(&self, q: &Question, rules: &Rules) -> Option<GapKind> {
        let body = self.answer_body(q);
        let apart = Chapter::parse(&body, rules);
        apart.classify(0..body.len(), rules)
    }

    /// The columns a question's answer lines are indented by: a list item's content column,
    /// or what the lines of a `<details>` answer share.
    pub fn answer_indent(&self, q: &Question) -> usize {
        match q.holder {
            Holder::Section => 0,
            Holder::Item { indent } => indent,
            Holder::Summary | Holder::Details => self
                .answer(q)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start_matches(' ').len())
                .min()
                .unwrap_or(0),
        }
    }

    /// The answer as Markdown of its own, its indentation inside a list item or block removed.
    pub fn answer_body(&self, q: &Question) -> Cow<'a, str> {
        dedent(self.answer(q), self.answer_indent(q))
    }

    /// For a question with no `<details>` answer block yet: the text before and after the
    /// answer of one the chapter has, to write one in its form.
    pub fn details_form(&self, q: &Question) -> Option<(&'a str, &'a str)> {
        let (open, close) = self.details_form.clone().filter(|_| q.unboxed)?;
        Some((&self.text[open], &self.text[close]))
    }

    /// What kind of gap the text in `range` is, or `None` when it is a real answer.
    fn classify(&self, range: Range<usize>, rules: &Rules) -> Option<GapKind> {
        let (mut prose, mut links, mut numbered) = (0, 0, 0);
        let (mut placeholder, mut metadata, mut outline, mut stub) = (false, false, false, false);
        let first = self.blocks.partition_point(|b| b.range.end <= range.start);
        for b in self.blocks[first..].iter().take_while(|b| b.range.start < range.end) {
            let slice = &self.text[b.range.start.max(range.start)..b.range.end.min(range.end)];
            match b.kind {
                BlockKind::Rule => {}
                BlockKind::Heading(_) => outline = true,
                BlockKind::Solid => return None,
                BlockKind::Html => {
                    if html::contains_image(slice) {
                        return None;
                    }
                    prose += visible_chars(&html::inner_text(slice));
                }
                BlockKind::Text => {
                    if b.images > 0 {
                        return None;
                    }
                    // Long blocks are prose anyway; read short ones line by line.
                    if slice.len() > 4096 {
                        prose += b.prose;
                        links += b.links;
                        continue;
                    }
                    let (mut special, mut other) = (0, false);
                    for line in slice.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        let chars = visible_chars(line);
                        // Labels, markers, metadata and sub-questions are short lines; a long
                        // one is prose, and skipping the patterns on it keeps scanning fast.
                        let kind = if line.len() > LONG_LINE {
                            LineKind::Prose
                        } else {
                            rules.line_kind(line)
                        };
                        match kind {
                            LineKind::Label => {}
                            LineKind::Placeholder => placeholder = true,
                            LineKind::Metadata => metadata = true,
                            LineKind::Outline => outline = true,
                            // A numbered line belongs to an outline when one of its
                            // neighbours asks a question, else it is prose.
                            LineKind::Numbered => numbered += chars,
                            LineKind::Url => links += 1,
                            LineKind::Pointer | LineKind::BareLabel => stub = true,
                            LineKind::Prose => other = true,
                        }
                        if kind != LineKind::Prose {
                            special += chars;
                        }
                    }
                    if other {
                        prose += b.prose.saturating_sub(special);
                        links += b.links;
                    }
                }
            }
            if prose >= rules.min_prose.max(1) {
                return None;
            }
        }
        if !outline {
            prose += numbered;
        }
        // A terse statement (`O(n^2)`, `封装，继承和多态。`) answers; pointers, labels and
        // URLs are not prose, so they never make one.
        let terse = rules.short_answers && prose >= TERSE_CHARS && !outline;
        Some(if prose >= rules.min_prose.max(1) || terse {
            return None;
        } else if outline {
            GapKind::Outline
        } else if prose > 0 || links > 0 || stub {
            GapKind::Stub
        } else if placeholder {
            GapKind::Placeholder
        } else if metadata {
            GapKind::MetadataOnly
        } else {
            GapKind::Empty
        })
    }
}

/// Uses of one local link, none before its heading, that make it navigation rather than a
/// table-of-contents entry.
const NAVIGATION_REPEATS: usize = 3;

/// The fewest visible characters of prose a terse answer has: one letter is no statement.
const TERSE_CHARS: usize = 2;

/// Bytes beyond which a line is taken as prose without matching the line patterns.
const LONG_LINE: usize = 400;

/// A heading's text as the question patterns see it: emphasis markers the parser left as
/// text (`**297.**inline的用法`) and the `***` some banks mark unanswered questions with
/// removed.
fn question_text(text: &str) -> &str {
    text.trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace())
}

/// Whether a heading's text asks a question by the patterns alone.
fn asks(text: &str, rules: &Rules) -> bool {
    let text = question_text(text);
    (rules.strong.is_match(text) || rules.question.is_match(text)) && !rules.structural.is_match(text)
}

/// A blank line, a thematic break, or a lone link (`**[⬆ Back to Top](#…)**`): what may
/// follow an answer block before the next question.
fn is_separator_line(line: &str) -> bool {
    static LONE_LINK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[*_\s]*\[[^\]]*\]\(#[^)]*\)[*_\s]*$").expect("valid"));
    is_break_line(line) || LONE_LINK.is_match(line.trim())
}

/// A blank line or a thematic break (`---`, `* * *`).
pub fn is_break_line(line: &str) -> bool {
    let t = line.trim();
    let mut chars = t.chars().filter(|c| !c.is_whitespace());
    let Some(first) = chars.next() else { return true };
    matches!(first, '-' | '*' | '_') && t.chars().filter(|&c| c == first).count() >= 3 && chars.all(|c| c == first)
}

/// Removes up to `n` leading spaces from every line.
fn dedent(text: &str, n: usize) -> Cow<'_, str> {
    if n == 0 {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let spaces = line.len() - line.trim_start_matches(' ').len();
        out.push_str(&line[spaces.min(n)..]);
    }
    Cow::Owned(out)
}

/// The number a heading starts with (`24、…` → 24).
fn leading_number(text: &str) -> Option<u64> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    text[..digits].parse().ok()
}

/// Lookup tables from anchors and texts to headings, for resolving table-of-contents links.
/// Most links hit `exact`; the fallback tables are built on the first miss.
struct AnchorIndex<'h> {
    headings: &'h [Heading],
    exact: HashMap<&'h str, usize>,
    fallback: std::cell::OnceCell<Fallback<'h>>,
}

struct Fallback<'h> {
    folded: HashMap<String, usize>,
    text: HashMap<&'h str, usize>,
    near: HashMap<String, usize>,
}

impl<'h> AnchorIndex<'h> {
    /// Link headings are table-of-contents entries themselves, not targets.
    fn targets(headings: &'h [Heading]) -> impl Iterator<Item = (usize, &'h Heading)> {
        headings.iter().enumerate().filter(|(_, h)| h.link_target.is_none())
    }

    fn new(headings: &'h [Heading]) -> Self {
        let mut exact = HashMap::new();
        for (i, h) in Self::targets(headings) {
            for a in h.ids.iter().chain([&h.slug]) {
                exact.entry(a.as_str()).or_insert(i);
            }
        }
        AnchorIndex {
            headings,
            exact,
            fallback: std::cell::OnceCell::new(),
        }
    }

    fn fallback(&self) -> &Fallback<'h> {
        self.fallback.get_or_init(|| {
            let mut f = Fallback {
                folded: HashMap::new(),
                text: HashMap::new(),
                near: HashMap::new(),
            };
            for (i, h) in Self::targets(self.headings) {
                for a in h.ids.iter().chain([&h.slug]) {
                    f.folded.entry(a.to_lowercase()).or_insert(i);
                    f.near.entry(near_key(a)).or_insert(i);
                }
                f.text.entry(h.text.as_str()).or_insert(i);
            }
            f
        })
    }

    fn resolve(&self, link: &Link<'_>) -> (Option<usize>, Resolution) {
        let anchor = decode_target(&link.dest);
        if link.dest.starts_with('#') {
            if let Some(&h) = self.exact.get(anchor.as_ref()) {
                return (Some(h), Resolution::Anchor);
            }
            let f = self.fallback();
            if let Some(&h) = f.folded.get(&anchor.to_lowercase()) {
                return (Some(h), Resolution::Anchor);
            }
            if let Some(&h) = f.text.get(link.text.as_ref()) {
                return (Some(h), Resolution::Text);
            }
        }
        match self.fallback().near.get(&near_key(&anchor)) {
            Some(&h) => (Some(h), Resolution::NearMiss),
            None => (None, Resolution::Unresolved),
        }
    }
}

#[cfg(test)]
mod tests;
