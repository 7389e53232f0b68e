//! Phase 1 of reading a chapter: one pass over pulldown-cmark's events collects the headings (Markdown,
//! HTML and `<summary>`), links, top-level blocks and `<details>` boxes, then anchors and slugs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use super::*;

impl<'a> Chapter<'a> {
    /// One pass over pulldown-cmark's events: headings, links, and a summary of each block.
    pub(super) fn scan_events(&mut self) {
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
        // Where the outermost open list item starts.
        let mut item_start = usize::MAX;

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
                if items.len() == 1
                    && let Some(top) = self.list_items.last_mut().filter(|t| t.item.start == item_start)
                {
                    top.lead = range.start;
                }
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
                        Tag::Item => {
                            if depth == 1 && open_details.is_empty() {
                                self.list_items.push(ListItem {
                                    item: range.clone(),
                                    lead: range.end,
                                });
                            }
                            if items.is_empty() {
                                item_start = range.start;
                            }
                            items.push((depth + 1, true, None));
                        }
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
    pub(super) fn push_heading(
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
    pub(super) fn details_tags(&mut self, range: Range<usize>, open: &mut Vec<usize>, in_list: bool, items: usize) {
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
    pub(super) fn close_details(&mut self, d: usize, body_end: usize, line_end: usize) {
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
    pub(super) fn html_headings(&mut self, block: Range<usize>) {
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
    pub(super) fn attach_anchor_lines(&mut self) {
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
    pub(super) fn assign_slugs(&mut self) {
        // Summaries and list items, which GitHub gives no anchor, after the headings: their
        // texts never shift a heading's `-1` suffix.
        let rank = |h: &Heading| match h.style {
            HeadingStyle::Summary => 1,
            HeadingStyle::Item => 2,
            _ => 0,
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        for pass in 0..3 {
            for h in self.headings.iter_mut().filter(|h| rank(h) == pass) {
                let base = slug(&h.text);
                let n = seen.entry(base.clone()).or_insert(0);
                h.slug = if *n == 0 { base } else { format!("{base}-{n}") };
                *n += 1;
            }
        }
    }
}
