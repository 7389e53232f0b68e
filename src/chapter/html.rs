//! The little HTML that question banks put around headings: `<h2 id="…">` elements, empty
//! `<a id="…"></a>` anchors, wrappers such as `<div align="center">` and comments.

/// An `<h1>`..`<h6>` element found in raw HTML; offsets are relative to the HTML given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlHeading {
    /// 1 to 6.
    pub level: u8,
    /// Byte offset of the tag's start in the block.
    pub start: usize,
    /// Byte offset just past its closing tag.
    pub end: usize,
    /// Its `id` attribute, if any.
    pub id: Option<String>,
    /// Its text without tags.
    pub text: String,
}

/// Every heading element in `html` that is not inside a comment, in order.
pub fn headings(html: &str) -> Vec<HtmlHeading> {
    let bytes = html.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(p) = html[i..].find('<').map(|p| p + i) {
        if html[p..].starts_with("<!--") {
            i = html[p + 4..].find("-->").map_or(html.len(), |e| p + 4 + e + 3);
            continue;
        }
        let level = match (bytes.get(p + 1), bytes.get(p + 2), bytes.get(p + 3)) {
            (Some(b'h' | b'H'), Some(d @ b'1'..=b'6'), Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')) => d - b'0',
            _ => {
                i = p + 1;
                continue;
            }
        };
        let Some(open_end) = tag_end(html, p) else { break };
        let attrs = &html[p + 3..open_end - 1];
        let (inner_end, end) = match find_close(html, open_end, level) {
            Some((close_start, close_end)) => (close_start, close_end),
            // An unclosed heading runs to the end of its line.
            None => {
                let eol = html[open_end..].find('\n').map_or(html.len(), |e| open_end + e);
                (eol, eol)
            }
        };
        let inner = &html[open_end..inner_end];
        let id = attr(attrs, "id")
            .or_else(|| attr(attrs, "name"))
            .or_else(|| first_anchor(inner));
        found.push(HtmlHeading {
            level,
            start: p,
            end,
            id,
            text: inner_text(inner),
        });
        i = end.max(p + 1);
    }
    found
}

/// The byte after the `>` that closes the tag opening at `start`, skipping quoted values.
fn tag_end(html: &str, start: usize) -> Option<usize> {
    let mut quote = None;
    for (k, b) in html.as_bytes()[start..].iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(*b),
            (Some(q), b) if q == *b => quote = None,
            (None, b'>') => return Some(start + k + 1),
            _ => {}
        }
    }
    None
}

/// The span of the `</hN>` that closes a heading whose content starts at `from`.
fn find_close(html: &str, from: usize, level: u8) -> Option<(usize, usize)> {
    let bytes = html.as_bytes();
    let mut i = from;
    while let Some(p) = html[i..].find("</").map(|p| p + i) {
        if matches!(bytes.get(p + 2), Some(b'h' | b'H')) && bytes.get(p + 3) == Some(&(b'0' + level)) {
            let end = html[p..].find('>').map_or(html.len(), |e| p + e + 1);
            return Some((p, end));
        }
        i = p + 2;
    }
    None
}

/// The value of attribute `name` in the attribute text of a tag (`id="x" class=y`).
pub fn attr(attrs: &str, name: &str) -> Option<String> {
    let bytes = attrs.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let key = &attrs[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = None;
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            match bytes.get(i) {
                Some(&q @ (b'"' | b'\'')) => {
                    let end = attrs[i + 1..].find(q as char).map_or(attrs.len(), |e| i + 1 + e);
                    value = Some(&attrs[i + 1..end]);
                    i = end + 1;
                }
                _ => {
                    let start = i;
                    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                        i += 1;
                    }
                    value = Some(&attrs[start..i]);
                }
            }
        }
        if key.is_empty() {
            i += 1;
        } else if key.eq_ignore_ascii_case(name) {
            return value.map(decode_entities);
        }
    }
    None
}

/// The `id` (or `name`) of the first `<a …>` tag in `html`.
pub fn first_anchor(html: &str) -> Option<String> {
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(p) = html[i..].find('<').map(|p| p + i) {
        if matches!(bytes.get(p + 1), Some(b'a' | b'A')) && matches!(bytes.get(p + 2), Some(b' ' | b'\t' | b'\n')) {
            let end = tag_end(html, p)?;
            let attrs = &html[p + 2..end - 1];
            if let Some(id) = attr(attrs, "id").or_else(|| attr(attrs, "name")) {
                return Some(id);
            }
        }
        i = p + 1;
    }
    None
}

/// When a line is nothing but an empty anchor (`<a id="q1"></a>`), its id.
pub fn anchor_line(line: &str) -> Option<String> {
    let t = line.trim();
    let rest = t.strip_suffix("</a>").or_else(|| t.strip_suffix("</A>"))?;
    if !rest.starts_with('<') || tag_end(rest, 0) != Some(rest.len()) {
        return None;
    }
    first_anchor(rest)
}

/// The text of an HTML fragment: tags and comments dropped, entities decoded, white space folded.
pub fn inner_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            i = comment.find("-->").map_or(html.len(), |e| i + 4 + e + 3);
        } else if rest.starts_with('<') && rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/') {
            i = tag_end(html, i).unwrap_or(html.len());
        } else {
            let skip = rest.chars().next().map_or(1, char::len_utf8);
            let next = rest[skip..].find('<').map_or(html.len(), |e| i + skip + e);
            out.push_str(&html[i..next]);
            i = next;
        }
    }
    fold_whitespace(decode_entities(&out))
}

/// Trims and folds runs of white space into one space, without copying text that has none.
pub fn fold_whitespace(text: String) -> String {
    let folded = !text.contains(['\n', '\r', '\t']) && !text.contains("  ") && text.trim().len() == text.len();
    if folded {
        text
    } else {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Decodes the character references that appear in headings (`&amp;`, `&#65;`, `&#x41;`, …).
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let Some(semi) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..semi];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ => name.strip_prefix('#').and_then(|n| {
                let code = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => n.parse().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether `name` is an element of HTML (the ones Markdown and answers use), as opposed to a
/// made-up tag such as a prompt's `<示例>`.
pub fn is_html_element(name: &str) -> bool {
    const ELEMENTS: [&str; 52] = [
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "center",
        "code",
        "col",
        "dd",
        "del",
        "details",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "input",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
        "video",
    ];
    ELEMENTS.contains(&name.to_ascii_lowercase().as_str())
}

/// True when the HTML holds no text and no image: empty wrappers, line breaks, comments.
pub fn is_blank(html: &str) -> bool {
    !contains_image(html) && inner_text(html).is_empty()
}

/// True when the HTML shows an image.
pub fn contains_image(html: &str) -> bool {
    html.as_bytes()
        .windows(4)
        .any(|w| w[0] == b'<' && w[1..].eq_ignore_ascii_case(b"img"))
}

/// A code fence opening or closing on `line`: its character and length, and whether the
/// rest of the line is empty (a closing fence must be).
fn fence(line: &str) -> Option<(char, usize, bool)> {
    let t = line.trim_start_matches(' ');
    if line.len() - t.len() > 3 {
        return None;
    }
    let ch = match t.chars().next() {
        Some(c @ ('`' | '~')) => c,
        _ => return None,
    };
    let run = t.chars().take_while(|&c| c == ch).count();
    (run >= 3).then(|| (ch, run, t[run..].trim().is_empty()))
}

/// Calls `outside` with each line of `md` that is not inside a fenced code block (fences
/// included as code); returns the fence still open at the end, if any.
fn walk_fences<'a>(md: &'a str, mut outside: impl FnMut(&'a str)) -> Option<(char, usize)> {
    let mut open: Option<(char, usize)> = None;
    for line in md.split_inclusive('\n') {
        match (open, fence(line)) {
            (None, Some((c, n, _))) => open = Some((c, n)),
            (Some((c, n)), Some((c2, n2, true))) if c == c2 && n2 >= n => open = None,
            (None, None) => outside(line),
            _ => {}
        }
    }
    open
}

/// The closing fence for a code block that runs to the end of `md`, if any.
pub fn unclosed_fence(md: &str) -> Option<String> {
    walk_fences(md, |_| {}).map(|(c, n)| c.to_string().repeat(n))
}

/// Markdown text with fenced code blocks and inline code spans blanked out, so that HTML
/// written as code is not taken for HTML.
pub fn outside_code(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    walk_fences(md, |line| out.push_str(&INLINE_CODE.replace_all(line, "")));
    out
}

static INLINE_CODE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"`+[^`]*`+").expect("valid"));

/// Whether lowercase `html` opens a comment it never closes.
pub fn unclosed_comment(html: &str) -> bool {
    html.rfind("<!--").is_some_and(|open| !html[open..].contains("-->"))
}

/// Block tags that swallow what follows when left open, in the order a text opens them more
/// often than it closes them. `html` must be lowercase.
pub fn unclosed_tags(html: &str) -> Vec<&'static str> {
    const TAGS: [&str; 7] = ["pre", "script", "style", "textarea", "details", "div", "table"];
    let mut open: Vec<(usize, &'static str)> = Vec::new();
    for tag in TAGS {
        let opens: Vec<usize> = html
            .match_indices(&format!("<{tag}"))
            .filter(|(i, m)| {
                html[i + m.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c == '>' || c.is_whitespace())
            })
            .map(|(i, _)| i)
            .collect();
        let closes = html.matches(&format!("</{tag}")).count();
        if opens.len() > closes {
            open.extend(opens[closes..].iter().map(|&i| (i, tag)));
        }
    }
    open.sort_unstable();
    open.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_headings_with_ids_and_text() {
        let h = headings("<div align=\"center\">\n<h2 id='q-002' class=x>面试问题：A &amp; B？</h2>\n</div>\n");
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].level, 2);
        assert_eq!(h[0].id.as_deref(), Some("q-002"));
        assert_eq!(h[0].text, "面试问题：A & B？");
        assert_eq!(
            &"<div align=\"center\">\n<h2 id='q-002' class=x>面试问题：A &amp; B？</h2>"[h[0].start..h[0].end],
            "<h2 id='q-002' class=x>面试问题：A &amp; B？</h2>"
        );
    }

    #[test]
    fn skips_comments_and_other_tags() {
        assert!(headings("<!-- <h2>x</h2> --><hr><header>y</header>").is_empty());
        let h = headings("<H3><a name=\"n1\"></a>Title</H3>");
        assert_eq!(h[0].id.as_deref(), Some("n1"));
        assert_eq!(h[0].text, "Title");
    }

    #[test]
    fn unclosed_heading_ends_at_line_end() {
        let h = headings("<h2 id=\"a\">Open\nmore");
        assert_eq!(h[0].text, "Open");
        assert_eq!(h[0].end, 15);
    }

    #[test]
    fn anchor_lines() {
        assert_eq!(anchor_line("<a id=\"concept-1\"></a>\r").as_deref(), Some("concept-1"));
        assert_eq!(anchor_line("  <a name='x'></a>").as_deref(), Some("x"));
        assert_eq!(anchor_line("<a href=\"y\"></a>"), None);
        assert_eq!(anchor_line("<a id=\"x\"></a> text"), None);
    }

    #[test]
    fn blank_html() {
        assert!(is_blank("<div align=\"center\"></div>"));
        assert!(is_blank("<br/>\n<!-- note -->"));
        assert!(!is_blank("<p>text</p>"));
        assert!(!is_blank("<img src=\"a.png\">"));
    }

    #[test]
    fn entities() {
        assert_eq!(decode_entities("a&lt;b&#x4E2D;&#25991;&bogus; &"), "a<b中文&bogus; &");
    }
}
