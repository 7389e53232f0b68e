//! Link reference definitions and footnotes, which Markdown resolves across the whole file
//! (the first definition of a label wins): an answer that defines `[vae]: …` or `[^2]: …`
//! can change where another question's `[原论文][vae]` points or what its footnote says.
//! [`own_labels`] gives an answer's definitions labels of its own; [`resolved`] says where
//! each reference of a text leads, as a GFM renderer resolves it, so that a merge can be
//! refused when it changes that for another question.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag};

fn options() -> Options {
    Options::ENABLE_FOOTNOTES | Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// How labels match: case-insensitively, with runs of white space as one space.
fn key(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Whether `text` may define a label at all: every definition holds `]:`. Lets a caller skip
/// the parses below for the usual answer.
pub fn may_define(text: &str) -> bool {
    text.contains("]:")
}

/// Where one reference of a text leads: a link's or image's destination and title, or the
/// text of the footnote it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Byte offset of the reference in the text.
    pub at: usize,
    /// The destination and title, or `footnote: ` and the footnote's text.
    pub target: String,
}

/// Every reference-style link and image and every footnote reference of `text`, in order,
/// resolved as GFM does. A shortcut that resolves to nothing is plain text and not listed:
/// a new definition that turns it into a link shows as an extra entry.
pub fn resolved(text: &str) -> Vec<Resolved> {
    let mut footnotes: HashMap<String, Range<usize>> = HashMap::new();
    let mut out = Vec::new();
    let mut refs: Vec<(usize, String)> = Vec::new();
    for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            })
            | Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                ..
            }) if is_reference(link_type) => out.push(Resolved {
                at: range.start,
                target: format!("{dest_url} \"{title}\""),
            }),
            Event::FootnoteReference(label) => refs.push((range.start, key(&label))),
            Event::Start(Tag::FootnoteDefinition(label)) => {
                footnotes.entry(key(&label)).or_insert(range);
            }
            _ => {}
        }
    }
    for (at, label) in refs {
        let target = footnotes.get(&label).map_or_else(String::new, |r| {
            // The definition's text, without its `[^label]:`, which a rename changes.
            let def = &text[r.clone()];
            let content = def.split_once("]:").map_or(def, |(_, c)| c);
            format!("footnote: {}", content.trim())
        });
        out.push(Resolved { at, target });
    }
    out.sort_by_key(|r| r.at);
    out
}

fn is_reference(t: LinkType) -> bool {
    matches!(
        t,
        LinkType::Reference | LinkType::Collapsed | LinkType::Shortcut | LinkType::ReferenceUnknown
    )
}

/// `body` with every link reference definition and footnote it defines renamed to
/// `label-suffix`, and its own references to them following: the answer's definitions can
/// then never take over a label another part of the chapter defines or uses. References to
/// labels the body does not define (the chapter's own) are left as they are.
pub fn own_labels<'b>(body: &'b str, suffix: &str) -> Cow<'b, str> {
    if !may_define(body) {
        return body.into();
    }
    let parser = Parser::new_ext(body, options());
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut uses: Vec<(Range<usize>, LinkType, String)> = Vec::new();
    let mut footnote_refs: Vec<(Range<usize>, String)> = Vec::new();
    let mut footnote_defs: Vec<(Range<usize>, String)> = Vec::new();
    let mut parser = parser.into_offset_iter();
    for (event, range) in parser.by_ref() {
        match event {
            Event::Start(Tag::Link { link_type, id, .. }) | Event::Start(Tag::Image { link_type, id, .. })
                if is_reference(link_type) =>
            {
                uses.push((range, link_type, id.to_string()));
            }
            Event::FootnoteReference(label) => footnote_refs.push((range, label.to_string())),
            Event::Start(Tag::FootnoteDefinition(label)) => footnote_defs.push((range, label.to_string())),
            _ => {}
        }
    }
    let defined: HashMap<String, Range<usize>> = parser
        .reference_definitions()
        .iter()
        .map(|(label, def)| (key(label), def.span.clone()))
        .collect();
    let renamed = |label: &str| format!("{}-{suffix}", label.trim());
    for span in defined.values() {
        // The definition's label is the first bracket of its span.
        if let Some(inner) = first_bracket(body, span.clone()) {
            edits.push((inner.clone(), renamed(&body[inner])));
        }
    }
    for (range, link_type, id) in uses {
        if !defined.contains_key(&key(&id)) {
            continue;
        }
        let src = &body[range.clone()];
        match link_type {
            // `[text][id]`: the last bracket holds the label.
            LinkType::Reference => {
                if let Some(open) = src.rfind('[') {
                    let inner = range.start + open + 1..range.end - 1;
                    edits.push((inner, renamed(&id)));
                }
            }
            // `[text][]` (whose `[]` the parser may leave out of the range) and `[text]`:
            // the label is the text; name it.
            LinkType::Collapsed => {
                let empty = if src.ends_with("[]") {
                    range.end - 2..range.end
                } else if body[range.end..].starts_with("[]") {
                    range.end..range.end + 2
                } else {
                    continue;
                };
                edits.push((empty, format!("[{}]", renamed(&id))));
            }
            _ => edits.push((range.end..range.end, format!("[{}]", renamed(&id)))),
        }
    }
    let footnotes: HashMap<String, ()> = footnote_defs.iter().map(|(_, l)| (key(l), ())).collect();
    for (range, label) in footnote_defs.into_iter().chain(footnote_refs) {
        if !footnotes.contains_key(&key(&label)) {
            continue;
        }
        // `[^label]` (a reference) or `[^label]:` (a definition) at the start of the range.
        let src = &body[range.clone()];
        let start = src.find("[^").map(|i| range.start + i + 2);
        let end = start.and_then(|s| body[s..].find(']').map(|e| s + e));
        if let (Some(s), Some(e)) = (start, end) {
            edits.push((s..e, renamed(&label)));
        }
    }
    if edits.is_empty() {
        return body.into();
    }
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    edits.dedup_by(|b, a| a.0 == b.0);
    let mut out = String::with_capacity(body.len() + edits.len() * (suffix.len() + 1));
    let mut at = 0;
    for (range, text) in edits {
        if range.start < at {
            continue;
        }
        out.push_str(&body[at..range.start]);
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(&body[at..]);
    out.into()
}

/// The inside of the first `[…]` in `span` of `text`.
fn first_bracket(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let s = &text[span.clone()];
    let open = s.find('[')?;
    let close = s[open..].find("]:")? + open;
    Some(span.start + open + 1..span.start + close)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answers_definitions_get_labels_of_their_own_and_its_uses_follow() {
        let body = "见[原论文][vae]、[VAE][]和[vae]，以及[外部][book]与脚注[^2]。\n\n[vae]: https://a.example/vae \"t\"\n\n[^2]: 自己的脚注。\n";
        let out = own_labels(body, "7");
        assert_eq!(
            out,
            "见[原论文][vae-7]、[VAE][VAE-7]和[vae][vae-7]，以及[外部][book]与脚注[^2-7]。\n\n[vae-7]: https://a.example/vae \"t\"\n\n[^2-7]: 自己的脚注。\n"
        );
        // What the renamed answer resolves to is what it resolved to before.
        let targets = |t: &str| resolved(t).into_iter().map(|r| r.target).collect::<Vec<_>>();
        assert_eq!(targets(body), targets(&out));
        assert_eq!(own_labels("没有定义的答案 [x]。\n", "7"), "没有定义的答案 [x]。\n");
    }

    #[test]
    fn a_later_definition_loses_to_an_earlier_one_as_in_gfm() {
        let text = "[a][x]\n\n[x]: https://first.example\n\n[x]: https://second.example\n";
        assert_eq!(resolved(text)[0].target, "https://first.example \"\"");
        // A shortcut with no definition is text; with one, a link.
        assert!(resolved("[x] 只是文字\n").is_empty());
        assert_eq!(resolved("[x] 链接\n\n[x]: /u\n").len(), 1);
    }
}
