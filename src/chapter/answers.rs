//! Phase 4: what each answer holds, and whether it is a gap: empty, a placeholder, metadata only,
//! a stub or an outline.

use std::borrow::Cow;
use std::ops::Range;

use super::*;

impl<'a> Chapter<'a> {
    /// Classifies an answer that does not stand at the top level of the chapter (inside a
    /// list item or a `<details>` block) by parsing it as Markdown of its own.
    pub(super) fn classify_apart(&self, q: &Question, rules: &Rules) -> Option<GapKind> {
        let body = self.answer_body(q);
        let apart = Chapter::parse_fragment(&body, rules);
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
    pub(super) fn classify(&self, range: Range<usize>, rules: &Rules) -> Option<GapKind> {
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
                    let lines: Vec<(&str, usize)> = slice
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| (l, visible_chars(l)))
                        .collect();
                    let mut rest: usize = lines.iter().map(|l| l.1).sum();
                    for (line, chars) in lines {
                        // Once prose is certain whatever the lines left turn out to be, the
                        // answer is one: the patterns are the costly part of scanning.
                        if other && prose + b.prose.saturating_sub(special + rest) >= rules.min_prose.max(1) {
                            return None;
                        }
                        rest -= chars;
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

/// The fewest visible characters of prose a terse answer has: one letter is no statement.
pub(super) const TERSE_CHARS: usize = 2;

/// Bytes beyond which a line is taken as prose without matching the line patterns.
pub(super) const LONG_LINE: usize = 400;

/// A blank line, a thematic break, or a lone link (`**[⬆ Back to Top](#…)**`): what may
/// follow an answer block before the next question.
pub(super) fn is_separator_line(line: &str) -> bool {
    static LONE_LINK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[*_\s]*\[[^\]]*\]\(#[^)]*\)[*_\s]*$").expect("valid"));
    is_break_line(line) || LONE_LINK.is_match(line.trim())
}

/// Removes up to `n` leading spaces from every line.
pub(super) fn dedent(text: &str, n: usize) -> Cow<'_, str> {
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
