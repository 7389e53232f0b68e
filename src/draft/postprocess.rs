//! Turning a model's reply into an answer body that can be merged under its question: pure
//! text in, text out.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::chapter::{Chapter, Heading, HeadingStyle, Holder, Question, Rules, html, links, near_key};

/// A cleaned answer and what had to be repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    /// The answer, ending in one line ending of the chapter's kind.
    pub text: String,
    /// What had to be repaired, for people.
    pub warnings: Vec<String>,
}

/// Why a reply cannot become an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CleanError {
    #[error("the reply has no answer text (empty, or only reasoning)")]
    /// Nothing is left of the reply.
    Empty,
    #[error("the answer would add question headings to the chapter: {}", .0.join(" | "))]
    /// These headings would read as new questions.
    AddsQuestions(Vec<String>),
}

/// What the answer is for.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The question's text, which a first line repeating it is compared with.
    pub question: &'a str,
    /// The question's number in its chapter: the answer's own link and footnote labels get
    /// it as a suffix.
    pub index: usize,
    /// Level of the question's heading: the answer's headings must be deeper.
    pub level: u8,
    /// The chapter's line ending is CRLF.
    pub crlf: bool,
    /// The anchors the chapter defines: the answer must not define them again.
    pub anchors: &'a HashSet<&'a str>,
    /// The answer goes inside a list item or a `<details>` block: its headings belong to that
    /// block, outside the chapter's outline, so they keep their levels and ask nothing.
    pub contained: bool,
}

impl<'a> Target<'a> {
    /// An answer to the question `text` (number `index`, under a heading of `level`) of
    /// `chapter`, whose anchors are `anchors`; `held` is the question as the chapter holds
    /// it (none for a table-of-contents entry with no section yet).
    pub fn new(
        chapter: &Chapter,
        anchors: &'a HashSet<&'a str>,
        (text, index, level): (&'a str, usize, u8),
        held: Option<&Question>,
    ) -> Target<'a> {
        Target {
            question: text,
            index,
            level,
            crlf: chapter.newline() == "\r\n",
            anchors,
            contained: held.is_some_and(|q| q.holder != Holder::Section),
        }
    }
}

static THINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<think>.*?</think>").expect("valid"));
static OPEN_FENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^ {0,3}(`{3,}|~{3,})[ \t]*(?:markdown|md)[ \t]*$").expect("valid"));
static ATX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$").expect("valid"));
static HTML_HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*<h[1-6][^>]*>(.*?)</h[1-6]>\s*$").expect("valid"));
static BOLD_LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s*\*\*(.+?)\*\*\s*$").expect("valid"));
static NUMBERING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:问题|题目|Q|Question)?\s*[:：]?\s*(?:\d+(?:\.\d+)*\s*[.、．):：]?)?\s*").expect("valid")
});

/// Cleans a reply: removes control characters; drops `<think>` blocks, a wrapping
/// ```` ```markdown ```` fence, a repeated question heading and surrounding blank lines;
/// closes an unclosed code fence, HTML comment or block tag; drops anchors the chapter has
/// already; demotes headings below the question's level and checks that no heading would
/// become a question (unless the answer is [`Target::contained`]); ends with one line ending, in the chapter's style.
pub fn clean(raw: &str, target: Target, rules: &Rules) -> Result<Cleaned, CleanError> {
    let mut warnings = Vec::new();
    let (text, removed) = strip_controls(raw);
    if removed > 0 {
        warnings.push(format!("removed {removed} control character(s)"));
    }
    let text = THINK.replace_all(&text, "");
    // An unclosed <think> at the start means the reply was all reasoning.
    if text.trim_start().starts_with("<think>") {
        return Err(CleanError::Empty);
    }
    let (text, dropped) = drop_taken_anchors(&text, target.anchors);
    if !dropped.is_empty() {
        warnings.push(format!(
            "dropped anchors the chapter already has: {}",
            dropped.join(", ")
        ));
    }
    let mut lines: Vec<&str> = text.lines().collect();
    trim_blank(&mut lines);
    unwrap_fence(&mut lines);
    trim_blank(&mut lines);
    drop_repeated_question(&mut lines, target.question);
    trim_blank(&mut lines);
    if lines.is_empty() {
        return Err(CleanError::Empty);
    }
    let mut body = lines.join("\n");
    if let Some(fence) = html::unclosed_fence(&body) {
        body.push('\n');
        body.push_str(&fence);
        warnings.push("closed a code fence the reply left open".into());
    }
    warnings.extend(close_html(&mut body));
    // Markdown resolves definitions across the whole chapter, first one wins: the answer's
    // own must not take over a label the chapter defines or uses elsewhere.
    if let Cow::Owned(owned) = links::own_labels(&body, &target.index.to_string()) {
        body = owned;
    }
    if !target.contained {
        let (demoted, shifted) = demote(&body, target.level, rules);
        if shifted > 0 {
            warnings.push(format!("demoted headings by {shifted} level(s)"));
        }
        body = demoted;
        let (bolded, left) = bold_added_questions(&mut body, target, rules);
        if !bolded.is_empty() {
            warnings.push(format!(
                "made headings that would read as questions bold lines: {}",
                bolded.join(" | ")
            ));
        }
        if !left.is_empty() {
            return Err(CleanError::AddsQuestions(left));
        }
    }
    let mut text = body;
    text.push('\n');
    if target.crlf {
        text = text.replace('\n', "\r\n");
    }
    Ok(Cleaned { text, warnings })
}

/// Whether a reply holds no answer text at all: empty, blank, or only reasoning (a `<think>`
/// block, closed or not), which [`clean`] refuses with [`CleanError::Empty`].
pub fn is_empty_reply(raw: &str) -> bool {
    let text = THINK.replace_all(raw, "");
    let text = text.trim();
    text.is_empty() || text.starts_with("<think>")
}

/// LF line endings, without NUL, the other C0 and C1 control characters (tab kept), DEL and
/// byte-order marks: they would make the chapter unreadable or hide text on a terminal. A
/// lone carriage return becomes a line ending. Returns the count removed.
fn strip_controls(raw: &str) -> (String, usize) {
    let text = raw.replace("\r\n", "\n").replace('\r', "\n");
    let before = text.chars().count();
    let kept: String = text
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !(c.is_control() || c == '\u{feff}'))
        .collect();
    let removed = before - kept.chars().count();
    (kept, removed)
}

/// Closes an HTML comment and block tags (`<pre>`, `<details>`, `<div>`, …) the reply
/// opened and never closed: left open they would swallow the questions after the answer.
fn close_html(body: &mut String) -> Vec<String> {
    let mut warnings = Vec::new();
    let text = html::outside_code(body).to_ascii_lowercase();
    if html::unclosed_comment(&text) {
        body.push_str("\n-->");
        warnings.push("closed an HTML comment the reply left open".into());
    }
    let open = html::unclosed_tags(&html::outside_code(body).to_ascii_lowercase());
    for tag in open.iter().rev() {
        body.push_str(&format!("\n</{tag}>"));
    }
    if !open.is_empty() {
        let tags: Vec<String> = open.iter().map(|t| format!("<{t}>")).collect();
        warnings.push(format!("closed {} the reply left open", tags.join(", ")));
    }
    warnings
}

static ANCHOR_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<a\s+(?:id|name)\s*=\s*["']([^"']+)["']\s*/?>(?:\s*</a>)?|\s(?:id|name)\s*=\s*["']([^"']+)["']|\s*\{#([^}\s]+)\}"#)
        .expect("valid")
});

/// Removes the anchors (`<a id>`, `id=` attributes, `{#id}`) that the chapter defines
/// already: a second definition would take a table-of-contents link away from its question.
fn drop_taken_anchors(body: &str, taken: &HashSet<&str>) -> (String, Vec<String>) {
    let mut dropped = Vec::new();
    let out = ANCHOR_TAG.replace_all(body, |c: &regex::Captures| {
        let id = c
            .get(1)
            .or_else(|| c.get(2))
            .or_else(|| c.get(3))
            .map_or("", |m| m.as_str());
        if taken.contains(id) {
            dropped.push(id.to_owned());
            String::new()
        } else {
            c[0].to_owned()
        }
    });
    (out.into_owned(), dropped)
}

fn trim_blank(lines: &mut Vec<&str>) {
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let lead = lines.iter().take_while(|l| l.trim().is_empty()).count();
    lines.drain(..lead);
}

/// A reply wrapped as a whole in a `markdown` code fence. An unlabelled fence is left alone:
/// it may be a real code block.
fn unwrap_fence(lines: &mut Vec<&str>) {
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
        return;
    };
    let Some(open) = OPEN_FENCE.captures(first).map(|c| c[1].to_owned()) else {
        return;
    };
    let close = last.trim();
    let ch = open.chars().next().unwrap_or('`');
    if lines.len() >= 2 && close.len() >= open.len() && close.chars().all(|c| c == ch) {
        lines.pop();
        lines.remove(0);
    }
}

/// The question's text without numbering or label, as a comparison key.
fn question_key(s: &str) -> String {
    near_key(&NUMBERING.replace(s.trim(), ""))
}

/// Drops a first line that repeats the question as a heading or a bold line (and a setext
/// underline after it).
fn drop_repeated_question(lines: &mut Vec<&str>, question: &str) {
    let Some(first) = lines.first() else { return };
    let setext = lines.get(1).is_some_and(|l| {
        let t = l.trim();
        !t.is_empty() && (t.chars().all(|c| c == '=') || t.chars().all(|c| c == '-'))
    });
    let inner = ATX
        .captures(first)
        .map(|c| c.get(1).map_or("", |m| m.as_str()))
        .or_else(|| HTML_HEADING.captures(first).and_then(|c| c.get(1)).map(|m| m.as_str()))
        .or_else(|| BOLD_LINE.captures(first).and_then(|c| c.get(1)).map(|m| m.as_str()))
        .or(setext.then_some(*first));
    let Some(inner) = inner else {
        // The question alone on a plain line.
        if question_key(first) == question_key(question) {
            lines.remove(0);
        }
        return;
    };
    let (a, b) = (question_key(inner), question_key(question));
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    // A shortened or lengthened question repeats it; one word of it (`**Element:**` under
    // "…an Element and a Component?") opens an answer.
    let (s, l) = (short.chars().count(), long.chars().count());
    // A reworded one ("介绍Seedream…" for "介绍一下Seedream…") differs in a few characters.
    // A ratio of 0.85 needs lengths within 3:4, which also keeps a long heading from a
    // diff against the question.
    let reworded =
        s >= 4 && s * 4 >= l * 3 && similar::TextDiff::from_chars(short.as_str(), long.as_str()).ratio() >= 0.85;
    let same = s >= 1 && (short == long || reworded || s >= 4 && s * 2 >= l && long.contains(short.as_str()));
    if same {
        let n = if setext && !ATX.is_match(first) { 2 } else { 1 };
        lines.drain(..n);
    }
}

/// Shifts every heading down so that the shallowest with text sits one level below `level`
/// (at most `h6`). An empty heading ends an answer only above the question's level, so it
/// shifts with the others but at least to `level`. Returns the new text and the largest move.
fn demote(body: &str, level: u8, rules: &Rules) -> (String, u8) {
    let chapter = Chapter::parse_fragment(body, rules);
    let min = chapter
        .headings
        .iter()
        .filter(|h| !h.text.is_empty())
        .map(|h| h.level)
        .min();
    let shift = min.map_or(0, |min| (level + 1).saturating_sub(min));
    let mut out = body.to_owned();
    let mut moved = 0;
    for h in chapter.headings.iter().rev() {
        let shifted = h.level + shift;
        let new = if h.text.is_empty() { shifted.max(level) } else { shifted }.min(6);
        if new <= h.level {
            continue;
        }
        let Some(replaced) = with_level(&body[h.range.clone()], h, new) else {
            continue;
        };
        out.replace_range(h.range.clone(), &replaced);
        moved = moved.max(new - h.level);
    }
    (out, moved)
}

/// The heading `own` (the text of `h`) at level `new`; none for a summary or a list item,
/// which have no rank.
fn with_level(own: &str, h: &Heading, new: u8) -> Option<String> {
    Some(match h.style {
        HeadingStyle::Atx => {
            let indent = own.len() - own.trim_start().len();
            let hashes = own[indent..].chars().take_while(|&c| c == '#').count();
            format!(
                "{}{}{}",
                &own[..indent],
                "#".repeat(new.into()),
                &own[indent + hashes..]
            )
        }
        HeadingStyle::Setext => {
            let text_line = own.lines().next().unwrap_or_default().trim();
            let tail = if own.ends_with('\n') { "\n" } else { "" };
            format!("{} {text_line}{tail}", "#".repeat(new.into()))
        }
        HeadingStyle::Summary | HeadingStyle::Item => return None,
        HeadingStyle::Html => {
            let (from, to) = (h.level, new);
            own.replacen(&format!("<h{from}"), &format!("<h{to}"), 1)
                .replacen(&format!("<H{from}"), &format!("<h{to}"), 1)
                .replacen(&format!("</h{from}>"), &format!("</h{to}>"), 1)
                .replacen(&format!("</H{from}>"), &format!("</h{to}>"), 1)
        }
    })
}

/// Sets every heading to its depth in the answer's outline, one below the question for the
/// shallowest: once a heading has become a bold line, the sections it held would otherwise
/// skip a level, which `check` reports. Siblings stay siblings.
fn relevel(body: &mut String, level: u8, rules: &Rules) {
    let chapter = Chapter::parse_fragment(body, rules);
    // (level in the reply, level now) of the open sections.
    let mut open: Vec<(u8, u8)> = Vec::new();
    let mut edits = Vec::new();
    for h in chapter.headings.iter().filter(|h| h.style != HeadingStyle::Summary) {
        while open.last().is_some_and(|&(was, _)| was >= h.level) {
            open.pop();
        }
        let new = (open.last().map_or(level, |&(_, now)| now) + 1).min(6);
        open.push((h.level, new));
        if new != h.level
            && let Some(replaced) = with_level(&body[h.range.clone()], h, new)
        {
            edits.push((h.range.clone(), replaced));
        }
    }
    for (r, replaced) in edits.into_iter().rev() {
        body.replace_range(r, &replaced);
    }
}

/// Headings of `body` that the chapter model would take as questions once merged, with their
/// ranges in `body`.
fn added_questions(body: &str, target: Target, rules: &Rules) -> Vec<(Range<usize>, Heading)> {
    let level = target.level.clamp(1, 6);
    let prefix = format!("{} {}\n\n", "#".repeat(level.into()), target.question);
    let doc = format!("{prefix}{body}\n");
    let chapter = Chapter::parse(&doc, rules);
    chapter
        .questions
        .iter()
        .filter(|q| q.heading > 0)
        .map(|q| {
            let h = chapter.heading(q);
            // The line ending `doc` added after `body` is not in `body`.
            let end = (h.range.end - prefix.len()).min(body.len());
            (h.range.start - prefix.len()..end, h.clone())
        })
        .collect()
}

/// Rewrites headings that would become questions of their own as bold lines, so that the
/// answer keeps its text and the chapter its outline: first the first of them alone (it may
/// be what made the rest read as questions, numbered sections under it), then whichever still
/// would, all at once. A reply without any costs one parse, any reply three at most. Returns
/// the texts made bold and those of the questions that are left (summaries, which have no
/// line to rewrite).
fn bold_added_questions(body: &mut String, target: Target, rules: &Rules) -> (Vec<String>, Vec<String>) {
    let mut bolded = Vec::new();
    let mut round = 0;
    loop {
        let found = added_questions(body, target, rules);
        let fixable = |(_, h): &(Range<usize>, Heading)| h.style != HeadingStyle::Summary;
        if round == 2 || !found.iter().any(fixable) {
            return (bolded, found.into_iter().map(|(_, h)| h.text).collect());
        }
        let take = if round == 0 { 1 } else { found.len() };
        let start = bolded.len();
        // From the last, so that the ranges before stay where they are.
        for (r, h) in found
            .into_iter()
            .filter(fixable)
            .take(take)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            bold_line(body, r, &h);
            bolded.insert(start, h.text);
        }
        relevel(body, target.level, rules);
        round += 1;
    }
}

/// `inline` without its strong emphasis markers (emphasis and code stay): bold inside a bold
/// line would close it early and leave stray asterisks.
fn without_strong(inline: &str) -> String {
    let mut out = inline.to_owned();
    let strong: Vec<Range<usize>> = pulldown_cmark::Parser::new(inline)
        .into_offset_iter()
        .filter(|(e, _)| matches!(e, pulldown_cmark::Event::Start(pulldown_cmark::Tag::Strong)))
        .map(|(_, r)| r)
        .collect();
    // Delimiters are two bytes each side; from the last so earlier ranges stay valid.
    let mut cuts: Vec<Range<usize>> = strong
        .iter()
        .flat_map(|r| [r.start..r.start + 2, r.end - 2..r.end])
        .collect();
    cuts.sort_by_key(|r| r.start);
    for r in cuts.into_iter().rev() {
        out.replace_range(r, "");
    }
    out
}

/// Replaces the heading at `r` with its text in bold, as a paragraph of its own.
fn bold_line(body: &mut String, r: Range<usize>, h: &Heading) {
    let own = body[r.clone()].trim_end();
    let inner = match h.style {
        HeadingStyle::Atx => ATX.captures(own).and_then(|c| c.get(1)).map_or("", |m| m.as_str()),
        _ => h.text.as_str(),
    };
    let mut line = format!("**{}**", without_strong(inner.trim()));
    let end = r.start + own.len();
    if r.start == 0 || body[..r.start].ends_with('\n') {
        if r.start > 0 && !body[..r.start].ends_with("\n\n") {
            line.insert(0, '\n');
        }
        let rest = body[end..].strip_prefix('\n').unwrap_or(&body[end..]);
        if !rest.is_empty() && !rest.lines().next().unwrap_or_default().trim().is_empty() {
            line.push('\n');
        }
    }
    body.replace_range(r.start..end, &line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapter::QuestionConfig;

    fn rules() -> Rules {
        Rules::new(&QuestionConfig::default()).unwrap()
    }

    static ANCHORS: LazyLock<HashSet<&str>> = LazyLock::new(|| HashSet::from(["7-dit", "8-vae"]));

    fn target_for_tests(level: u8) -> Target<'static> {
        Target {
            question: "7、介绍一下 DiT 的结构",
            index: 7,
            level,
            crlf: false,
            anchors: &ANCHORS,
            contained: false,
        }
    }

    fn run(raw: &str, level: u8, crlf: bool) -> Result<Cleaned, CleanError> {
        clean(
            raw,
            Target {
                crlf,
                ..target_for_tests(level)
            },
            &rules(),
        )
    }

    #[test]
    fn removes_control_characters_and_lone_carriage_returns() {
        let c = run("答\u{0}案\u{1b}[8m藏\u{9b}行\u{7f}\u{feff}\r二行\r\n", 2, false).unwrap();
        assert_eq!(c.text, "答案[8m藏行\n二行\n");
        assert_eq!(c.warnings, ["removed 5 control character(s)"]);
    }

    #[test]
    fn closes_html_the_reply_left_open_but_not_html_in_code() {
        let c = run("正文\n\n<details>\n<pre>\n代码\n<!-- 注释\n", 2, false).unwrap();
        assert_eq!(
            c.text,
            "正文\n\n<details>\n<pre>\n代码\n<!-- 注释\n-->\n</pre>\n</details>\n"
        );
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        let code = "例子：\n\n```html\n<pre>\n<!--\n```\n\n行内 `<div>` 也不算。\n";
        let c = run(code, 2, false).unwrap();
        assert_eq!(c.text, code);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn drops_anchors_the_chapter_has_already() {
        let c = run(
            "<a id=\"8-vae\"></a>\n正文 <span id=\"7-dit\">x</span> <a id=\"new\"></a>\n",
            2,
            false,
        )
        .unwrap();
        assert_eq!(c.text, "正文 <span>x</span> <a id=\"new\"></a>\n");
        assert_eq!(c.warnings, ["dropped anchors the chapter already has: 8-vae, 7-dit"]);
    }

    #[test]
    fn strips_think_fence_repeated_heading_and_blank_lines() {
        let raw = "<think>先想想……</think>\n\n```markdown\n## 7. 介绍一下DiT的结构\n\n**DiT** 用 Transformer 替换 U-Net。\n\n```\n\n";
        let c = run(raw, 2, false).unwrap();
        assert_eq!(c.text, "**DiT** 用 Transformer 替换 U-Net。\n");
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn drops_the_question_repeated_on_a_plain_line_only_when_it_is_all_the_line() {
        assert_eq!(run("7.介绍一下DiT的结构\n\n正文\n", 2, false).unwrap().text, "正文\n");
        let kept = "介绍一下 DiT 的结构之前，先看 U-Net。\n";
        assert_eq!(run(kept, 2, false).unwrap().text, kept);
    }

    #[test]
    fn keeps_a_first_heading_that_is_not_the_question() {
        let c = run("### 核心结构\n\n内容\n", 2, false).unwrap();
        assert_eq!(c.text, "### 核心结构\n\n内容\n");
        // React's Q5 "What is the difference between an Element and a Component?" opens with
        // `**Element:**`: one word of the question is no repetition of it.
        let raw = "**Element:**\n- A plain object.\n\n**Component:**\n- A function.\n";
        let anchors = HashSet::new();
        let t = Target {
            question: "What is the difference between an Element and a Component?",
            index: 5,
            level: 3,
            crlf: false,
            anchors: &anchors,
            contained: true,
        };
        assert_eq!(clean(raw, t, &rules()).unwrap().text, raw);
        // A shortened repetition still goes.
        let c = run("## DiT 的结构\n\n内容\n", 2, false).unwrap();
        assert_eq!(c.text, "内容\n");
    }

    #[test]
    fn demotes_every_style_below_the_question() {
        let raw = "## 原理\n\n文字\n\n细节\n---\n\n<h3>表格</h3>\n\n#### 深处\n";
        let c = run(raw, 2, false).unwrap();
        assert_eq!(c.text, "### 原理\n\n文字\n\n### 细节\n\n<h4>表格</h4>\n\n##### 深处\n");
        assert_eq!(c.warnings, ["demoted headings by 1 level(s)"]);
        let deep = run("# A\n\n###### B\n", 5, false).unwrap();
        assert_eq!(deep.text, "###### A\n\n###### B\n", "capped at h6");
    }

    #[test]
    fn an_empty_heading_moves_only_as_far_as_it_must() {
        // An empty heading of the question's level ends no answer (0voice's `##  ` between
        // paragraphs): it stays as written.
        let c = run("甲。\n\n##  \n\n乙。\n", 2, false).unwrap();
        assert_eq!(c.text, "甲。\n\n##  \n\n乙。\n");
        assert!(c.warnings.is_empty(), "{c:?}");
        // One above it would end the answer: it comes down to the question's level.
        let c = run("甲。\n\n#\n\n乙。\n", 2, false).unwrap();
        assert_eq!(c.text, "甲。\n\n##\n\n乙。\n");
        // With headings that must shift, it shifts with them.
        let c = run("## 原理\n\n甲。\n\n##\n\n乙。\n", 2, false).unwrap();
        assert_eq!(c.text, "### 原理\n\n甲。\n\n###\n\n乙。\n");
    }

    #[test]
    fn closes_an_unclosed_fence_and_converts_line_endings() {
        let c = run("代码：\r\n\r\n```python\r\nprint(1)\r\n", 2, true).unwrap();
        assert_eq!(c.text, "代码：\r\n\r\n```python\r\nprint(1)\r\n```\r\n");
        assert_eq!(c.warnings.len(), 1);
        let fine = run("````\n```\n````\n", 2, false).unwrap();
        assert_eq!(fine.text, "````\n```\n````\n");
        assert!(fine.warnings.is_empty(), "{fine:?}");
    }

    #[test]
    fn empty_or_reasoning_only_replies_are_errors() {
        assert_eq!(run("  \n\n", 2, false), Err(CleanError::Empty));
        assert_eq!(run("<think>only thoughts, cut off", 2, false), Err(CleanError::Empty));
        assert_eq!(run("```markdown\n```", 2, false), Err(CleanError::Empty));
        assert_eq!(run("## 7、介绍一下 DiT 的结构\n", 2, false), Err(CleanError::Empty));
    }

    #[test]
    fn a_reworded_repeat_of_the_question_is_dropped() {
        // Qwen2.5-Coder-0.5B in the demo opened with the question minus its "一下".
        let c = run("## 7.介绍 DiT 的结构\n\n正文\n", 2, false).unwrap();
        assert_eq!(c.text, "正文\n");
        let kept = "### DiT 的训练\n\n正文\n";
        assert_eq!(run(kept, 2, false).unwrap().text, kept);
    }

    #[test]
    fn headings_that_would_be_questions_become_bold_lines() {
        // A question-like heading over numbered sections: all of them would read as questions
        // of the chapter; only the first has to go for the rest to be sections again, which
        // then sit one level below the question.
        let raw = "# Seedream 的原理是什么？\n\n## 1. 扩散 Transformer\n\n正文\n\n## 2. 高压缩率的 VAE\n";
        assert_eq!(
            added_questions(&demote(raw, 2, &rules()).0, target_for_tests(2), &rules()).len(),
            3
        );
        let c = run(raw, 2, false).unwrap();
        assert_eq!(
            c.text,
            "**Seedream 的原理是什么？**\n\n### 1. 扩散 Transformer\n\n正文\n\n### 2. 高压缩率的 VAE\n"
        );
        assert_eq!(
            c.warnings,
            [
                "demoted headings by 2 level(s)",
                "made headings that would read as questions bold lines: Seedream 的原理是什么？"
            ]
        );
        let cases = [
            // Inline markup survives, and blank lines keep the bold line a paragraph of its own.
            (
                "文字足够长的一段正文内容在这里。\n## 8、什么是 [VAE](https://x.org/vae)？\n另一段。\n",
                "文字足够长的一段正文内容在这里。\n\n**8、什么是 [VAE](https://x.org/vae)？**\n\n另一段。\n",
                "8、什么是 VAE？",
            ),
            // What still reads as a question after the first goes in one more round.
            (
                "文字足够长的一段正文内容在这里。\n\n## 8、什么是 VAE？\n\n正文\n\n## 8. 什么是 CLIP？\n\n正文\n## 9. 什么是 LoRA？\n正文\n",
                "文字足够长的一段正文内容在这里。\n\n**8、什么是 VAE？**\n\n正文\n\n**8. 什么是 CLIP？**\n\n正文\n\n**9. 什么是 LoRA？**\n\n正文\n",
                "8、什么是 VAE？ | 8. 什么是 CLIP？ | 9. 什么是 LoRA？",
            ),
        ];
        for (raw, text, bolded) in cases {
            let c = run(raw, 1, false).unwrap();
            assert_eq!(c.text, text);
            assert_eq!(
                c.warnings,
                [format!(
                    "made headings that would read as questions bold lines: {bolded}"
                )]
            );
        }
        // The last line of the reply (the proptest in tests/review.rs found this one).
        let c = run("文字足够长的一段正文内容在这里。\n\n## 8、什么是 CLIP？", 1, false).unwrap();
        assert_eq!(c.text, "文字足够长的一段正文内容在这里。\n\n**8、什么是 CLIP？**\n");
    }

    #[test]
    fn a_bolded_heading_keeps_valid_emphasis_and_leaves_no_heading_jump() {
        // The demo model's reply to question 7: a numbered heading whose text is bold already,
        // with a numbered sub-section under it.
        let raw =
            "### 1. **扩散 Transformer（DiT）**\n\n正文。\n\n#### 1.1 结构\n\n细节。\n\n#### 1.2 *训练*\n\n细节。\n";
        let c = run(raw, 2, false).unwrap();
        assert_eq!(
            c.text,
            "**1. 扩散 Transformer（DiT）**\n\n正文。\n\n### 1.1 结构\n\n细节。\n\n### 1.2 *训练*\n\n细节。\n"
        );
        // Bold in the middle and emphasis keep their meaning inside the bold line.
        let raw = "文字足够长的一段正文内容在这里。\n\n## 8、什么是 **VAE** 和 *CLIP*？\n\n另一段。\n";
        assert_eq!(
            run(raw, 1, false).unwrap().text,
            "文字足够长的一段正文内容在这里。\n\n**8、什么是 VAE 和 *CLIP*？**\n\n另一段。\n"
        );
    }
}
