//! The chapter model shared by every stage: which headings are questions, where each answer
//! begins and ends, what the table of contents links to, and which answers are gaps.
//!
//! [`Chapter::parse`] reads the text once with pulldown-cmark and keeps byte offsets into it; it
//! never changes a byte, so later stages can splice answers into the original text.

mod anchor;
pub mod html;
mod rules;

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
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
    /// The only thing in its paragraph: a table-of-contents line written without a list.
    alone: bool,
}

/// A Markdown heading being read by [`Chapter::scan_events`].
struct OpenHeading {
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
    line_starts: Vec<usize>,
}

/// Counts the non-blank characters of `s` without decoding it: bytes that start a character
/// and are not ASCII space or control. Branch-free so that it vectorises; it runs on all text.
fn visible_chars(s: &str) -> usize {
    s.as_bytes()
        .chunks(255)
        .map(|chunk| {
            // As i8: ASCII visible is 33..=127, a UTF-8 lead byte -64..=-1, a continuation
            // byte below -64; a u8 counter cannot overflow in 255 bytes.
            let n: u8 = chunk
                .iter()
                .map(|&b| u8::from(b as i8 > 32) | u8::from(b >= 0xC0))
                .sum();
            usize::from(n)
        })
        .sum()
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
            line_starts: std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
                .collect(),
        };
        c.scan_events();
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
        let mut block: Option<Block> = None;
        let mut heading: Option<OpenHeading> = None;
        let mut open_links: Vec<OpenLink<'a>> = Vec::new();

        for (event, range) in parser {
            let range = range.start + base..range.end + base;
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
                        Tag::Heading { level, id, .. } if depth == 0 => {
                            // `{#id}` after an ATX heading, as pandoc and kramdown write it.
                            let ids = id.map(|id| id.into_string()).into_iter().collect();
                            heading = Some(OpenHeading {
                                level: level as u8,
                                range: range.clone(),
                                text: String::new(),
                                ids,
                                plain: 0,
                            });
                        }
                        Tag::List(_) => lists += 1,
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
                                    in_heading: heading.is_some(),
                                    alone: false,
                                });
                            }
                        }
                        TagEnd::Heading(_) if depth == 0 => {
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
                                self.push_heading(h.level, style, hrange.clone(), hrange, h.text, h.ids, link_target);
                                if let Some(b) = block.as_mut() {
                                    b.kind = BlockKind::Heading(self.headings.len() - 1);
                                }
                            }
                        }
                        TagEnd::HtmlBlock if depth == 0 => {
                            if let Some(b) = &block {
                                self.html_headings(b.range.clone());
                            }
                        }
                        TagEnd::Table if depth == 0 => self.tables.push(range.clone()),
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
                Event::InlineHtml(t) => {
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
        });
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

    /// GitHub numbers repeated slugs `x`, `x-1`, `x-2`, …
    fn assign_slugs(&mut self) {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for h in &mut self.headings {
            let base = slug(&h.text);
            let n = seen.entry(base.clone()).or_insert(0);
            h.slug = if *n == 0 { base } else { format!("{base}-{n}") };
            *n += 1;
        }
    }

    /// Finds the table of contents and resolves its links. Returns where it ends: the first
    /// heading that an earlier list link points at (0, no table of contents, without one).
    fn find_toc(&mut self) -> usize {
        let candidates: Vec<usize> = (0..self.links.len())
            .filter(|&i| {
                let l = &self.links[i];
                let local =
                    l.dest.starts_with('#') || !(l.dest.contains(':') || l.dest.contains('/') || l.dest.is_empty());
                !l.image && local && (l.in_list || l.in_heading || l.alone)
            })
            .collect();
        if candidates.is_empty() {
            return 0;
        }
        let index = AnchorIndex::new(&self.headings);
        let resolved: Vec<(Option<usize>, Resolution)> =
            candidates.iter().map(|&i| index.resolve(&self.links[i])).collect();
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

    /// Decides which headings are questions and where their answers end.
    fn find_questions(&mut self, toc_end: usize, rules: &Rules) {
        // The first table-of-contents entry linking to each heading.
        let mut in_toc: Vec<Option<usize>> = vec![None; self.headings.len()];
        for (i, t) in self.toc.iter().enumerate().rev() {
            if let Some(h) = t.heading {
                in_toc[h] = Some(i);
            }
        }
        // Open questions, outermost first: (question index, level, has a child question).
        let mut stack: Vec<(usize, u8, bool)> = Vec::new();
        // The question whose answer is still open.
        let mut open: Option<usize> = None;

        #[allow(clippy::needless_range_loop)] // `self` is mutated inside the loop.
        for h in 0..self.headings.len() {
            let heading = &self.headings[h];
            if heading.link_target.is_some() || heading.unit.start < toc_end && in_toc[h].is_none() {
                continue;
            }
            let (level, start, text) = (heading.level, heading.unit.start, heading.text.as_str());
            let linked = in_toc[h].is_some();
            let strong = linked || rules.strong.is_match(text);
            let weak = !strong && rules.question.is_match(text);
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
                if let Some(parent) = stack.last_mut() {
                    parent.2 = true;
                    self.questions[parent.0].group = true;
                }
                if let Some(q) = open.take() {
                    self.questions[q].answer.end = start;
                }
                let unit_end = self.headings[h].unit.end;
                self.questions.push(Question {
                    heading: h,
                    index: self.questions.len() + 1,
                    answer: unit_end..self.text.len(),
                    group: false,
                    toc: in_toc[h],
                    gap: None,
                });
                stack.push((self.questions.len() - 1, level, false));
                open = Some(self.questions.len() - 1);
            } else if let Some(q) = open.filter(|&q| level < self.headings[self.questions[q].heading].level) {
                // A higher-ranked heading that is no question ends the answer.
                self.questions[q].answer.end = start;
                open = None;
                while stack.last().is_some_and(|&(_, l, _)| l >= level) {
                    stack.pop();
                }
            }
        }
        for q in 0..self.questions.len() {
            let gap = self.classify(self.questions[q].answer.clone(), rules);
            // A parent question with text of its own is answered; without, it is a group.
            let q = &mut self.questions[q];
            q.group &= gap.is_some();
            q.gap = if q.group { None } else { gap };
        }
    }

    /// What kind of gap the text in `range` is, or `None` when it is a real answer.
    fn classify(&self, range: Range<usize>, rules: &Rules) -> Option<GapKind> {
        let (mut prose, mut links, mut numbered) = (0, 0, 0);
        let (mut placeholder, mut metadata, mut outline) = (false, false, false);
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
        Some(if prose >= rules.min_prose.max(1) {
            return None;
        } else if outline {
            GapKind::Outline
        } else if prose > 0 || links > 0 {
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

/// Bytes beyond which a line is taken as prose without matching the line patterns.
const LONG_LINE: usize = 400;

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
