//! The diff a reviewer sees: the chapter before and after one edit, as a unified diff with
//! line numbers, context and character-level emphasis (CJK text has no spaces to split words
//! on). Only the edited region is diffed, so its cost does not grow with the chapter.

use std::fmt::Write as _;

use console::{Style, style};
use similar::{Algorithm, ChangeTag, InlineChangeMode, InlineChangeOptions, TextDiff};

use super::merge::Edit;

/// Lines of unchanged context shown around a change.
pub const CONTEXT: usize = 3;

/// `s` safe to write to a terminal: control characters other than tab and line feed shown as
/// their Unicode pictures (`␛`, `␀`, `␍`), C1 controls and DEL as `�`, so that no text from a
/// draft can move the cursor, hide lines or change the terminal.
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\t' && c != '\n';
    if !s.chars().any(bad) {
        return s.into();
    }
    s.chars()
        .map(|c| match c {
            c if !bad(c) => c,
            '\0'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            _ => '\u{fffd}',
        })
        .collect::<String>()
        .into()
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

/// Renders the diff of `edit` applied to `old`, with `context` lines around it.
pub fn render(old: &str, edit: &Edit, context: usize) -> String {
    render_width(old, edit, context, None)
}

/// Width of the line-number gutter: `    4     5 │+`.
const GUTTER: usize = 14;

/// [`render`], with lines longer than `width` columns wrapped under the gutter. Without
/// colours, the characters that changed inside a line are marked `[-…-]` and `{+…+}`.
pub fn render_width(old: &str, edit: &Edit, context: usize, width: Option<usize>) -> String {
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
    let marks = !console::colors_enabled();
    let room = width.map(|w| w.saturating_sub(GUTTER).max(10));

    let diff = TextDiff::configure()
        .algorithm(Algorithm::Patience)
        .diff_lines(old_region, new_region.as_str());
    let mut options = InlineChangeOptions::new();
    options.mode(InlineChangeMode::Chars).semantic_cleanup(true);
    let mut out = String::new();
    for group in diff.grouped_ops(context) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (o, n) = (first.old_range().start, first.new_range().start);
        let (o_len, n_len) = (last.old_range().end - o, last.new_range().end - n);
        let _ = writeln!(
            out,
            "{}",
            style(format!("@@ -{},{o_len} +{},{n_len} @@", o + first_line, n + first_line)).cyan()
        );
        for op in &group {
            for change in diff.iter_inline_changes_with_options(op, options) {
                let (sign, line_style, emphasis, (open, close)) = match change.tag() {
                    ChangeTag::Delete => (
                        '-',
                        Style::new().red(),
                        Style::new().red().bold().reverse(),
                        ("[-", "-]"),
                    ),
                    ChangeTag::Insert => (
                        '+',
                        Style::new().green(),
                        Style::new().green().bold().reverse(),
                        ("{+", "+}"),
                    ),
                    ChangeTag::Equal => (' ', Style::new().dim(), Style::new().dim(), ("", "")),
                };
                let num = |i: Option<usize>| i.map_or_else(|| "     ".to_owned(), |i| format!("{:>5}", i + first_line));
                let gutter = format!(
                    "{} {} │{}",
                    style(num(change.old_index())).dim(),
                    style(num(change.new_index())).dim(),
                    line_style.apply_to(sign)
                );
                let segments: Vec<(bool, String)> = change
                    .iter_strings_lossy()
                    .map(|(e, v)| (e, visible(v.trim_end_matches(['\n', '\r'])).into_owned()))
                    .collect();
                // Marks only where a line changed in part: a wholly new line needs none.
                let partial = segments.iter().any(|(e, v)| !*e && !v.trim().is_empty());
                let mut line = Line::new(gutter, room);
                for (emphasised, value) in segments {
                    if emphasised && marks && partial {
                        line.push(open, &line_style);
                        line.push(&value, &emphasis);
                        line.push(close, &line_style);
                    } else {
                        line.push(&value, if emphasised { &emphasis } else { &line_style });
                    }
                }
                out.push_str(&line.text);
                out.push('\n');
            }
        }
    }
    out
}

/// One diff line being written, wrapped at `room` columns after its gutter; continuation
/// lines get an empty gutter.
struct Line {
    text: String,
    col: usize,
    room: Option<usize>,
}

impl Line {
    fn new(gutter: String, room: Option<usize>) -> Line {
        Line {
            text: gutter,
            col: 0,
            room,
        }
    }

    fn push(&mut self, s: &str, with: &Style) {
        let Some(room) = self.room else {
            let _ = write!(self.text, "{}", with.apply_to(s));
            return;
        };
        let mut piece = String::new();
        for c in s.chars() {
            let w = console::measure_text_width(c.encode_utf8(&mut [0; 4]));
            if self.col + w > room {
                let _ = write!(self.text, "{}", with.apply_to(&piece));
                piece.clear();
                self.text.push('\n');
                self.text.push_str(&" ".repeat(GUTTER - 2));
                self.text.push_str("│ ");
                self.col = 0;
            }
            piece.push(c);
            self.col += w;
        }
        let _ = write!(self.text, "{}", with.apply_to(&piece));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_region_with_numbers_and_context_only() {
        console::set_colors_enabled(false);
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
    fn long_lines_wrap_under_the_gutter_and_partial_changes_are_marked_without_colour() {
        console::set_colors_enabled(false);
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
        let long = Edit {
            range: 6..6,
            text: format!("{}\n\n", "长".repeat(40)),
            order: 0,
        };
        let wrapped = render_width(old, &long, 1, Some(40));
        for l in wrapped.lines() {
            assert!(console::measure_text_width(l) <= 40, "{l:?}");
        }
        assert!(wrapped.contains("\n            │ 长"), "{wrapped}");
    }

    #[test]
    fn a_replacement_shows_removed_lines() {
        console::set_colors_enabled(false);
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
