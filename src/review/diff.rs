//! The diff a reviewer sees: the chapter before and after one edit, as hunks of lines with
//! line numbers, context and character-level changes (CJK text has no spaces to split words
//! on). Only the edited region is diffed, so its cost does not grow with the chapter. This is
//! data and plain text; the app adds colour, wrapping and terminal escaping (as `similar`'s
//! `udiff` leaves colour to its caller).

use std::fmt::Write as _;

use similar::{Algorithm, ChangeTag, InlineChangeMode, InlineChangeOptions, TextDiff};

use super::merge::Edit;

/// Lines of unchanged context shown around a change.
pub const CONTEXT: usize = 3;

/// What a line of a hunk does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// Only in the chapter before.
    Delete,
    /// Only in the chapter after.
    Insert,
    /// In both.
    Equal,
}

/// One line of a hunk: its numbers before and after (1-based, in the whole chapter) and its
/// text in segments, `true` for the characters that changed inside a line. Line endings are
/// left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What the line does.
    pub tag: Tag,
    /// Its number before, if it was there.
    pub old: Option<usize>,
    /// Its number after, if it is there.
    pub new: Option<usize>,
    /// Its text in pieces, `true` for the characters that changed.
    pub segments: Vec<(bool, String)>,
}

impl Line {
    /// Whether the line changed in part (some segment changed, some did not), so that the
    /// changed characters are worth marking; a wholly new line needs no marks.
    pub fn partial(&self) -> bool {
        self.segments.iter().any(|(e, v)| !*e && !v.trim().is_empty())
    }
}

/// A run of changed lines with their context: `@@ -old_start,old_len +new_start,new_len @@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// The first line before.
    pub old_start: usize,
    /// Lines before.
    pub old_len: usize,
    /// The first line after.
    pub new_start: usize,
    /// Lines after.
    pub new_len: usize,
    /// The lines, in order.
    pub lines: Vec<Line>,
}

impl Hunk {
    /// `@@ -4,4 +4,6 @@`.
    pub fn header(&self) -> String {
        format!(
            "@@ -{},{} +{},{} @@",
            self.old_start, self.old_len, self.new_start, self.new_len
        )
    }
}

/// Byte offset of the start of the line `n` lines before the one holding `at`.
fn back_lines(text: &str, at: usize, n: usize) -> usize {
    let mut start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    for _ in 0..n {
        if start == 0 {
            break;
        }
        start = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
    }
    start
}

/// Byte offset just past the line `n` lines after the one holding `at` (or the end).
fn forward_lines(text: &str, at: usize, n: usize) -> usize {
    let mut end = at;
    for _ in 0..=n {
        match text[end..].find('\n') {
            Some(i) => end += i + 1,
            None => return text.len(),
        }
    }
    end
}

/// The hunks of `edit` applied to `old`, with `context` lines around the change.
pub fn hunks(old: &str, edit: &Edit, context: usize) -> Vec<Hunk> {
    let start = back_lines(old, edit.range.start, context);
    // The line holding the edit's end is the first unchanged one when the edit ends at a line
    // start; context counts from there.
    let old_end = if edit.range.end > start && old.as_bytes().get(edit.range.end - 1) == Some(&b'\n') {
        forward_lines(old, edit.range.end, context.saturating_sub(1))
    } else {
        forward_lines(old, edit.range.end, context)
    };
    let old_end = if context == 0 {
        edit.range.end.max(start)
    } else {
        old_end
    };
    let old_region = &old[start..old_end];
    let new_region = format!(
        "{}{}{}",
        &old[start..edit.range.start],
        edit.text,
        &old[edit.range.end..old_end]
    );
    let first_line = memchr::memchr_iter(b'\n', &old.as_bytes()[..start]).count() + 1;
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .diff_lines(old_region, new_region.as_str());
    let mut options = InlineChangeOptions::new();
    options.mode(InlineChangeMode::Chars).semantic_cleanup(true);
    let mut out = Vec::new();
    for group in diff.grouped_ops(context) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (o, n) = (first.old_range().start, first.new_range().start);
        let mut hunk = Hunk {
            old_start: o + first_line,
            old_len: last.old_range().end - o,
            new_start: n + first_line,
            new_len: last.new_range().end - n,
            lines: Vec::new(),
        };
        for op in &group {
            for change in diff.iter_inline_changes_with_options(op, options) {
                hunk.lines.push(Line {
                    tag: match change.tag() {
                        ChangeTag::Delete => Tag::Delete,
                        ChangeTag::Insert => Tag::Insert,
                        ChangeTag::Equal => Tag::Equal,
                    },
                    old: change.old_index().map(|i| i + first_line),
                    new: change.new_index().map(|i| i + first_line),
                    segments: change
                        .iter_strings_lossy()
                        .map(|(e, v)| (e, v.trim_end_matches(['\n', '\r']).to_owned()))
                        .collect(),
                });
            }
        }
        out.push(hunk);
    }
    out
}

/// A line's gutter: `    4     5 │+`.
pub fn gutter(line: &Line) -> String {
    let num = |i: Option<usize>| i.map_or_else(|| "     ".to_owned(), |i| format!("{i:>5}"));
    let sign = match line.tag {
        Tag::Delete => '-',
        Tag::Insert => '+',
        Tag::Equal => ' ',
    };
    format!("{} {} │{sign}", num(line.old), num(line.new))
}

/// The diff of `edit` applied to `old` as plain text: each hunk's header, then its lines
/// with their gutters, and the characters that changed inside a partly changed line marked
/// `[-…-]` and `{+…+}`.
pub fn render(old: &str, edit: &Edit, context: usize) -> String {
    let mut out = String::new();
    for hunk in hunks(old, edit, context) {
        let _ = writeln!(out, "{}", hunk.header());
        for line in &hunk.lines {
            out.push_str(&gutter(line));
            let (open, close) = match line.tag {
                Tag::Delete => ("[-", "-]"),
                Tag::Insert => ("{+", "+}"),
                Tag::Equal => ("", ""),
            };
            let partial = line.partial();
            for (changed, value) in &line.segments {
                if *changed && partial {
                    let _ = write!(out, "{open}{value}{close}");
                } else {
                    out.push_str(value);
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_region_with_numbers_and_context_only() {
        let old = "a\nb\nc\n## Q\n\nd\ne\nf\ng\n";
        let at = old.find("\nd").unwrap() + 1;
        let edit = Edit {
            range: at..at,
            text: "答案第一行\n\n".into(),
            order: 0,
        };
        let d = render(old, &edit, 2);
        assert_eq!(
            d,
            "@@ -4,4 +4,6 @@\n    4     4 │ ## Q\n    5     5 │ \n          6 │+答案第一行\n          7 │+\n    6     8 │ d\n    7     9 │ e\n"
        );
    }

    #[test]
    fn partial_changes_are_marked() {
        let old = "## Q\n\n旧的一行说明文字\n";
        let edit = Edit {
            range: 6..old.len(),
            text: "新的一行说明文字\n".into(),
            order: 0,
        };
        let d = render(old, &edit, 1);
        assert!(
            d.contains("│-[-旧-]的一行说明文字") && d.contains("│+{+新+}的一行说明文字"),
            "{d}"
        );
    }

    #[test]
    fn a_replacement_shows_removed_lines() {
        let old = "## Q\n\n待补充\n\n## R\n";
        let edit = Edit {
            range: 5..old.find("## R").unwrap(),
            text: "\n新的答案\n\n".into(),
            order: 0,
        };
        let d = render(old, &edit, 1);
        assert!(d.contains("│-待补充") && d.contains("│+新的答案"), "{d}");
    }
}
