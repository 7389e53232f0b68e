//! `aigcq check`: lints for what the book's contribution rules ask of a chapter. Pure: the
//! caller says which local files exist.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::chapter::{Chapter, Resolution, decode_target};

/// A lint rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// A table-of-contents link that reaches no heading.
    TocLink,
    /// A question the table of contents does not list.
    TocMissing,
    /// Table-of-contents entries in another order than their questions.
    TocOrder,
    /// An anchor defined twice.
    DuplicateAnchor,
    /// An image without alt text.
    ImageAlt,
    /// A local link or image whose target does not exist.
    LocalTarget,
    /// A table row with another number of cells than its header.
    TableColumns,
    /// A heading more than one level below the one before.
    HeadingJump,
    /// A form the glossary (`prompts/glossary.toml`) says to avoid.
    Terminology,
}

impl Rule {
    /// Every rule, in the order reports list them.
    pub const ALL: [Rule; 9] = [
        Rule::TocLink,
        Rule::TocMissing,
        Rule::TocOrder,
        Rule::DuplicateAnchor,
        Rule::ImageAlt,
        Rule::LocalTarget,
        Rule::TableColumns,
        Rule::HeadingJump,
        Rule::Terminology,
    ];

    /// The name `aigcq.toml`'s `[check] disable` and the output use.
    pub fn name(self) -> &'static str {
        match self {
            Rule::TocLink => "toc-link",
            Rule::TocMissing => "toc-missing",
            Rule::TocOrder => "toc-order",
            Rule::DuplicateAnchor => "duplicate-anchor",
            Rule::ImageAlt => "image-alt",
            Rule::LocalTarget => "local-target",
            Rule::TableColumns => "table-columns",
            Rule::HeadingJump => "heading-jump",
            Rule::Terminology => "terminology",
        }
    }

    /// What it finds, for `check --help`.
    pub fn what(self) -> &'static str {
        match self {
            Rule::TocLink => "a table-of-contents link points at no heading",
            Rule::TocMissing => "a question is not listed in the table of contents",
            Rule::TocOrder => "the table of contents lists questions in another order than the text",
            Rule::DuplicateAnchor => "two headings share an anchor",
            Rule::ImageAlt => "an image has no alt text",
            Rule::LocalTarget => "a local image or link target does not exist",
            Rule::TableColumns => "a table row has another number of cells than the header",
            Rule::HeadingJump => "a heading inside an answer skips a level",
            Rule::Terminology => "prose uses a form prompts/glossary.toml says to avoid",
        }
    }

    /// The rule of that name.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One finding of `aigcq check`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// The chapter, as shown to the user.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The rule that found it.
    pub rule: Rule,
    /// What is wrong, for people.
    pub message: String,
}

/// The forms of `glossary`'s terms that `chapter` uses where the book writes another, one
/// finding per line.
pub fn terminology(chapter: &Chapter, file: &str, glossary: &crate::glossary::Glossary) -> Vec<Finding> {
    let hits = glossary.avoided_in(chapter.text());
    let mut out: Vec<Finding> = Vec::new();
    let mut i = 0;
    while i < hits.len() {
        let line = chapter.line_of(hits[i].range.start);
        let same = hits[i..]
            .iter()
            .take_while(|h| chapter.line_of(h.range.start) == line)
            .count();
        if let Some(message) = crate::glossary::describe(&hits[i..i + same]) {
            out.push(Finding {
                file: file.to_owned(),
                line,
                rule: Rule::Terminology,
                message,
            });
        }
        i += same;
    }
    out
}

/// Lints a chapter. `exists(target)` tells whether a local link target (relative to the
/// chapter's folder, fragment and query removed, decoded) exists.
pub fn lint(chapter: &Chapter, file: &str, exists: &dyn Fn(&str) -> bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |line: usize, rule: Rule, message: String| {
        out.push(Finding {
            file: file.to_owned(),
            line,
            rule,
            message,
        });
    };

    for t in &chapter.toc {
        let Some(h) = t.heading.map(|h| &chapter.headings[h]) else {
            if t.resolution == Resolution::Unresolved {
                // A struck entry marks a question taken out; its link is dead all the same.
                let struck = if t.struck { " (the entry is struck through)" } else { "" };
                add(
                    t.line,
                    Rule::TocLink,
                    format!("`{}` matches no heading{struck}", t.target),
                );
            }
            continue;
        };
        let (target, anchor) = (&t.target, h.anchor());
        match t.resolution {
            Resolution::Anchor | Resolution::Unresolved => {}
            // Found only by its place: the heading may be another question, so say which.
            Resolution::Order => add(
                t.line,
                Rule::TocLink,
                format!(
                    "`{target}` matches no heading; the heading in its place is `#{anchor}` ({:?})",
                    h.text
                ),
            ),
            Resolution::Text | Resolution::NearMiss => add(
                t.line,
                Rule::TocLink,
                format!("`{target}` matches no heading; did you mean `#{anchor}`?"),
            ),
        }
    }

    if !chapter.toc.is_empty() {
        // A table of contents that lists only some levels (groups, not their sub-questions)
        // leaves the other levels out on purpose.
        let mut listed = [false; 7];
        for q in chapter.questions.iter().filter(|q| q.toc.is_some()) {
            listed[usize::from(chapter.heading(q).level)] = true;
        }
        let toc_anchors: HashSet<&str> = chapter.toc.iter().map(|t| t.anchor.as_str()).collect();
        for q in chapter.questions.iter().filter(|q| q.toc.is_none()) {
            let h = chapter.heading(q);
            // A repeated heading whose anchor is listed: `duplicate-anchor` reports it.
            if !listed[usize::from(h.level)] || toc_anchors.contains(h.anchor()) {
                continue;
            }
            add(
                h.line,
                Rule::TocMissing,
                format!("question `{}` is not in the table of contents", h.text),
            );
        }
        let mut last: Option<usize> = None;
        for t in &chapter.toc {
            let Some(h) = t.heading else { continue };
            if last.is_some_and(|l| h < l) {
                add(
                    t.line,
                    Rule::TocOrder,
                    format!("`{}` is listed after a question that comes later in the text", t.text),
                );
            }
            last = Some(last.map_or(h, |l| l.max(h)));
        }
    }

    let mut seen: HashMap<&str, usize> = HashMap::new();
    for h in &chapter.headings {
        for id in &h.ids {
            if let Some(first) = seen.insert(id, h.line) {
                add(
                    h.line,
                    Rule::DuplicateAnchor,
                    format!("anchor `{id}` is also used on line {first}"),
                );
            }
        }
    }

    let toc_links: HashSet<usize> = chapter.toc.iter().map(|t| t.offset).collect();
    for l in &chapter.links {
        if l.image && l.text.is_empty() {
            add(l.line, Rule::ImageAlt, format!("image `{}` has no alt text", l.dest));
        }
        if let Some(target) = local_target(&l.dest)
            && !toc_links.contains(&l.offset)
            && !exists(&target)
        {
            add(l.line, Rule::LocalTarget, format!("`{target}` does not exist"));
        }
    }

    for table in &chapter.tables {
        table_columns(&chapter.text()[table.clone()], chapter.line_of(table.start), &mut add);
    }

    // Answers and headings are both in text order: one cursor walks the headings.
    let mut next = 0;
    for q in &chapter.questions {
        let mut level = chapter.heading(q).level;
        next += chapter.headings[next..].partition_point(|h| h.range.start < q.answer.start);
        let inside = chapter.headings[next..]
            .iter()
            .take_while(|h| h.range.start < q.answer.end);
        for h in inside {
            if h.level > level + 1 {
                add(
                    h.line,
                    Rule::HeadingJump,
                    format!("h{} follows h{level}; expected h{} at most", h.level, level + 1),
                );
            }
            level = h.level;
        }
    }
    out.sort_by_key(|f| f.line);
    out
}

/// The file a link points at, when it is a local file rather than a URL or an anchor.
fn local_target(dest: &str) -> Option<String> {
    let path = dest.split(['#', '?']).next().unwrap_or("");
    let scheme = path
        .split_once(':')
        .is_some_and(|(s, _)| s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)));
    if path.is_empty() || scheme || path.starts_with("//") {
        return None;
    }
    Some(decode_target(path).into_owned())
}

/// Compares each row's cell count with the header's.
fn table_columns(source: &str, first_line: usize, add: &mut impl FnMut(usize, Rule, String)) {
    let mut rows = source.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = rows.next() else { return };
    let want = cells(header);
    for (i, row) in rows.skip(1) {
        let got = cells(row);
        if got != want {
            add(
                first_line + i,
                Rule::TableColumns,
                format!("row has {got} cells, the header {want}"),
            );
        }
    }
}

/// Cells in a table row: pipes outside code spans and not escaped, outer pipes not counted.
fn cells(row: &str) -> usize {
    let row = row.trim();
    let mut pipes = 0;
    let (mut code, mut escaped) = (false, false);
    for c in row.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '`' => code = !code,
            '|' if !code => pipes += 1,
            _ => {}
        }
    }
    let outer =
        usize::from(row.starts_with('|')) + usize::from(row.ends_with('|') && !row.ends_with("\\|") && row.len() > 1);
    pipes + 1 - outer.min(pipes + 1)
}

/// The `[check]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CheckConfig {
    /// Names of lint rules to skip (see `aigcq check --help`).
    pub disable: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapter::Rules;

    #[test]
    fn every_rule_fires_on_its_fault() {
        let text = "\
- [1. 甲？](#a)
- [3. 丙？](#c)
- [2. 乙？](#b-)
- [4. 丁？](#d)

<h2 id=\"a\">1. 甲？</h2>

甲的答案。![](local.png) ![图](https://x.org/y.png) [文](missing.md)

#### 跳级

<h2 id=\"b\">2. 乙？</h2>

| a | b |
|---|---|
| 1 | 2 | 3 |

<h2 id=\"c\">3. 丙？</h2>

<h2 id=\"a\">5. 戊？</h2>
";
        let c = Chapter::parse(text, &Rules::default());
        let found = lint(&c, "f.md", &|t: &str| t == "local.png");
        let got: Vec<_> = found.iter().map(|f| (f.line, f.rule.name())).collect();
        assert_eq!(
            got,
            [
                (3, "toc-link"),
                (3, "toc-order"),
                (4, "toc-link"),
                (8, "image-alt"),
                (8, "local-target"),
                (10, "heading-jump"),
                (16, "table-columns"),
                (20, "duplicate-anchor"),
            ],
            "{found:#?}"
        );
        assert!(found[0].message.contains("did you mean `#b`"), "{}", found[0].message);
    }

    #[test]
    fn a_toc_entry_found_by_its_place_names_the_heading_there() {
        let text = "## 目录\n\n- [1. 甲？](#1-甲)\n- [2. 乙？](#2-乙)\n- [~~3. 丙？~~](#3-丙)\n- [4. 丁？](#4-丁)\n\n## 1. 甲？\n\n答。\n\n## 2. 改过的乙？\n\n答。\n\n## 4. 丁？\n\n答。\n";
        let c = Chapter::parse(text, &Rules::default());
        let found = lint(&c, "f.md", &|_: &str| true);
        let got: Vec<_> = found.iter().map(|f| (f.line, f.message.as_str())).collect();
        assert_eq!(
            got,
            [
                (
                    4,
                    "`#2-乙` matches no heading; the heading in its place is `#2-改过的乙` (\"2. 改过的乙？\")"
                ),
                (5, "`#3-丙` matches no heading (the entry is struck through)"),
            ],
            "{found:#?}"
        );
    }

    #[test]
    fn cell_counts() {
        assert_eq!(cells("| a | b |"), 2);
        assert_eq!(cells("a | b"), 2);
        assert_eq!(cells("| `a|b` | c \\| d |"), 2);
        assert_eq!(cells("|---|---|---|"), 3);
    }

    #[test]
    fn local_targets() {
        assert_eq!(local_target("./imgs/a%20b.png").as_deref(), Some("./imgs/a b.png"));
        assert_eq!(local_target("https://x.org/a"), None);
        assert_eq!(local_target("#q-1"), None);
        assert_eq!(local_target("mailto:a@b"), None);
        assert_eq!(local_target("other.md#sec").as_deref(), Some("other.md"));
    }
}
