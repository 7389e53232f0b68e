//! The review's diff on a terminal: the engine's hunks with colours, wrapped under the
//! gutter, every character from the draft or the chapter escaped ([`super::safe`]). Without
//! colours, the characters that changed inside a line are marked `[-…-]` and `{+…+}`, as the
//! engine's plain text does.

use std::fmt::Write as _;

use console::{Style, style};

use aigcq::review::diff::{self, Hunk, Tag};

/// Width of the line-number gutter: `    4     5 │+`.
const GUTTER: usize = 14;

/// `hunks` for the terminal, lines longer than `width` columns wrapped under the gutter.
pub fn render(hunks: &[Hunk], width: Option<usize>) -> String {
    let marks = !console::colors_enabled();
    let room = width.map(|w| w.saturating_sub(GUTTER).max(10));
    let mut out = String::new();
    for hunk in hunks {
        let _ = writeln!(out, "{}", style(hunk.header()).cyan());
        for line in &hunk.lines {
            let (line_style, emphasis, (open, close)) = match line.tag {
                Tag::Delete => (Style::new().red(), Style::new().red().bold().reverse(), ("[-", "-]")),
                Tag::Insert => (
                    Style::new().green(),
                    Style::new().green().bold().reverse(),
                    ("{+", "+}"),
                ),
                Tag::Equal => (Style::new().dim(), Style::new().dim(), ("", "")),
            };
            let plain = diff::gutter(line);
            let (numbers, sign) = plain.split_at(plain.len() - 1);
            let gutter = format!("{}{}", style(numbers).dim(), line_style.apply_to(sign));
            let partial = line.partial();
            let mut wrapped = Wrapped::new(gutter, room);
            for (changed, value) in &line.segments {
                let value = super::safe(value);
                if *changed && marks && partial {
                    wrapped.push(open, &line_style);
                    wrapped.push(&value, &emphasis);
                    wrapped.push(close, &line_style);
                } else {
                    wrapped.push(&value, if *changed { &emphasis } else { &line_style });
                }
            }
            out.push_str(&wrapped.text);
            out.push('\n');
        }
    }
    out
}

/// One diff line being written, wrapped at `room` columns after its gutter; continuation
/// lines get an empty gutter.
struct Wrapped {
    text: String,
    col: usize,
    room: Option<usize>,
}

impl Wrapped {
    fn new(gutter: String, room: Option<usize>) -> Wrapped {
        Wrapped {
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
    use aigcq::review::merge::Edit;

    #[test]
    fn long_lines_wrap_under_the_gutter_and_match_the_plain_text_without_colour() {
        console::set_colors_enabled(false);
        let old = "## Q\n\n旧的一行说明文字\n";
        let edit = Edit {
            range: 6..old.len(),
            text: "新的一行说明文字\n".into(),
            order: 0,
        };
        assert_eq!(render(&diff::hunks(old, &edit, 1), None), diff::render(old, &edit, 1));
        let long = Edit {
            range: 6..6,
            text: format!("{}\n\n", "长".repeat(40)),
            order: 0,
        };
        let wrapped = render(&diff::hunks(old, &long, 1), Some(40));
        for l in wrapped.lines() {
            assert!(console::measure_text_width(l) <= 40, "{l:?}");
        }
        assert!(wrapped.contains("\n            │ 长"), "{wrapped}");
    }

    #[test]
    fn control_characters_from_a_draft_are_escaped() {
        console::set_colors_enabled(false);
        let old = "## Q\n\n";
        let edit = Edit {
            range: 6..6,
            text: "答\u{1b}[2J案\n".into(),
            order: 0,
        };
        let shown = render(&diff::hunks(old, &edit, 1), None);
        assert!(!shown.contains('\u{1b}') && shown.contains("答␛[2J案"), "{shown:?}");
    }
}
