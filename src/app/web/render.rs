//! Drafts as the page shows them: Markdown rendered as GitHub renders it (tables, task lists,
//! footnotes, strikethrough, code), formulas as MathML (no script), and everything sanitised:
//! a model's reply is untrusted HTML. The diff of the chapter as an HTML table.

use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Tag};
use pulldown_latex::config::{DisplayMode, RenderConfig};

use aigcq::chapter::parser_options;
use aigcq::review::diff::{Hunk, Tag as LineTag};

/// MathML Core's elements and the attributes they need; nothing else of MathML passes.
const MATH_TAGS: &[&str] = &[
    "math",
    "semantics",
    "annotation",
    "mrow",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "msup",
    "msub",
    "msubsup",
    "mfrac",
    "msqrt",
    "mroot",
    "mstyle",
    "merror",
    "mpadded",
    "mphantom",
    "menclose",
    "munder",
    "mover",
    "munderover",
    "mmultiscripts",
    "mprescripts",
    "none",
    "mtable",
    "mtr",
    "mtd",
];
const MATH_ATTRIBUTES: &[&str] = &[
    "display",
    "mathvariant",
    "stretchy",
    "fence",
    "separator",
    "lspace",
    "rspace",
    "accent",
    "accentunder",
    "movablelimits",
    "largeop",
    "symmetric",
    "minsize",
    "maxsize",
    "linethickness",
    "scriptlevel",
    "displaystyle",
    "width",
    "height",
    "depth",
    "columnalign",
    "rowalign",
    "columnspacing",
    "rowspacing",
    "encoding",
    "notation",
    "form",
];

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.add_tags(MATH_TAGS)
        .add_tags(["input"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tag_attributes("td", ["style"])
        .add_tag_attributes("th", ["style"])
        // Only the alignment a table writes; no other inline style.
        .filter_style_properties(["text-align"].into())
        .url_schemes(["http", "https", "mailto"].into())
        .link_rel(Some("noopener noreferrer nofollow"));
    for tag in MATH_TAGS {
        b.add_tag_attributes(tag, MATH_ATTRIBUTES);
    }
    b
});

/// `markdown` as safe HTML. Relative image paths resolve under `assets` (the chapter's folder
/// as the page serves it, ending in `/`).
pub fn markdown(markdown: &str, assets: &str) -> String {
    let events = pulldown_cmark::Parser::new_ext(markdown, parser_options()).map(|event| match event {
        Event::InlineMath(tex) => Event::InlineHtml(math(&tex, DisplayMode::Inline).into()),
        Event::DisplayMath(tex) => Event::Html(math(&tex, DisplayMode::Block).into()),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: asset_url(&dest_url, assets),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    CLEANER.clean(&html).to_string()
}

/// A formula as MathML; one that does not parse shows its source.
fn math(tex: &str, display_mode: DisplayMode) -> String {
    let storage = pulldown_latex::Storage::new();
    let events: Vec<_> = pulldown_latex::Parser::new(tex, &storage).collect();
    let config = RenderConfig {
        display_mode,
        ..RenderConfig::default()
    };
    let mut out = String::new();
    let parsed = events.iter().all(Result::is_ok);
    match parsed && pulldown_latex::mathml::push_mathml(&mut out, events.into_iter(), config).is_ok() {
        true => out,
        false => format!("<code>{}</code>", escape(tex)),
    }
}

/// An image's URL: absolute ones as they are (the page's policy keeps them from loading), a
/// relative one under `assets`.
fn asset_url<'a>(dest: &CowStr<'a>, assets: &str) -> CowStr<'a> {
    let absolute = dest.contains(':') || dest.starts_with('/') || dest.starts_with("//");
    if absolute || dest.is_empty() {
        return dest.clone();
    }
    format!("{assets}{}", dest.trim_start_matches("./")).into()
}

/// Text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The hunks of a diff as a table: line numbers before and after, the changed characters
/// marked inside a changed line.
pub fn diff(hunks: &[Hunk]) -> String {
    let mut out = String::from("<table class=\"diff\">");
    for h in hunks {
        out.push_str(&format!(
            "<tr class=\"hunk\"><td colspan=\"3\">{}</td></tr>",
            escape(&h.header())
        ));
        for line in &h.lines {
            let (class, sign) = match line.tag {
                LineTag::Delete => ("del", "-"),
                LineTag::Insert => ("ins", "+"),
                LineTag::Equal => ("eq", " "),
            };
            let number = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
            out.push_str(&format!(
                "<tr class=\"{class}\"><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"t\">{sign} ",
                number(line.old),
                number(line.new)
            ));
            let partial = line.partial();
            for (changed, text) in &line.segments {
                if *changed && partial {
                    out.push_str(&format!("<mark>{}</mark>", escape(text)));
                } else {
                    out.push_str(&escape(text));
                }
            }
            out.push_str("</td></tr>");
        }
    }
    out.push_str("</table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_task_lists_code_and_math_render_as_github_shows_them() {
        let html = markdown(
            "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n~~old~~ `code`\n\n质能 $E=mc^2$ 与\n\n$$\\frac{a}{b}$$\n\n![图](img/a.png)\n",
            "/asset/ch/",
        );
        assert!(html.contains("<table>"), "{html}");
        assert!(
            html.contains("text-align: left") || html.contains("text-align:left"),
            "{html}"
        );
        assert!(html.contains("type=\"checkbox\""), "{html}");
        assert!(html.contains("<del>old</del>") && html.contains("<code>code</code>"));
        assert!(
            html.contains("<math") && html.contains("<mi>E</mi>") && html.contains("<mfrac>"),
            "{html}"
        );
        assert!(html.contains("display=\"block\""), "{html}");
        assert!(html.contains("src=\"/asset/ch/img/a.png\""), "{html}");
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_never_reach_the_page() {
        let hostile = "<script>alert(1)</script>\n\n<img src=x onerror=\"alert(2)\">\n\n[click](javascript:alert(3))\n\n<a href=\"JaVaScRiPt:alert(4)\">x</a> <iframe src=\"https://evil\"></iframe>\n\n<svg onload=alert(5)></svg> <math><mi onclick=\"alert(6)\">x</mi><maction actiontype=\"statusline\">y</maction></math>\n\n<style>body{display:none}</style> <div style=\"position:fixed\">z</div>\n\n$\\href{javascript:alert(7)}{x}$\n";
        let html = markdown(hostile, "/asset/");
        let lower = html.to_lowercase();
        for bad in [
            "<script",
            "onerror",
            "href=\"javascript",
            "src=\"javascript",
            "<iframe",
            "onload",
            "onclick",
            "<style",
            "position:fixed",
            "maction",
            "<svg",
        ] {
            assert!(!lower.contains(bad), "{bad} in {html}");
        }
        assert!(html.contains("<mi>x</mi>"), "the formula's own text stays: {html}");
        assert!(html.contains("<code>\\href{javascript:alert(7)}{x}</code>"), "{html}");
    }

    #[test]
    fn a_formula_that_does_not_parse_shows_its_source() {
        let html = markdown("见 $\\nosuchcommand x$ 一式", "/");
        assert!(html.contains("<code>\\nosuchcommand x</code>"), "{html}");
    }
}
