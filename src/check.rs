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
    /// A question asked again, in this chapter or another.
    DuplicateQuestion,
}

impl Rule {
    /// Every rule, in the order reports list them.
    pub const ALL: [Rule; 10] = [
        Rule::TocLink,
        Rule::TocMissing,
        Rule::TocOrder,
        Rule::DuplicateAnchor,
        Rule::ImageAlt,
        Rule::LocalTarget,
        Rule::TableColumns,
        Rule::HeadingJump,
        Rule::Terminology,
        Rule::DuplicateQuestion,
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
            Rule::DuplicateQuestion => "duplicate-question",
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
            Rule::DuplicateQuestion => "a question is asked again, in this chapter or another",
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CheckConfig {
    /// Names of lint rules to skip (see `aigcq check --help`).
    pub disable: Vec<String>,
    /// How alike two questions' normalised texts must be (edit distance against the longer,
    /// 0–1) to be reported as nearly the same; 1 reports only identical ones.
    pub duplicate_similarity: f64,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            disable: Vec::new(),
            duplicate_similarity: 0.85,
        }
    }
}

/// A question as the duplicate check sees it.
#[derive(Debug, Clone)]
pub struct Asked {
    /// Its chapter, as shown to the user.
    pub file: String,
    /// 1-based line of its heading.
    pub line: usize,
    /// Its text.
    pub text: String,
    /// What a quiz asks about besides its text (the code and options before its answer
    /// block): `What's its value?` over other code is another question.
    pub stem: String,
}

impl Asked {
    /// The questions of `chapter` that ask by their text (a number, a question mark, a task
    /// word): groups and headings the book repeats as structure (`附录 术语表`) aside.
    pub fn of(chapter: &Chapter, file: &str, rules: &crate::chapter::Rules) -> Vec<Asked> {
        chapter
            .questions
            .iter()
            .filter(|q| !q.group)
            .filter(|q| crate::chapter::asks_or_sets_task(&chapter.heading(q).text, rules))
            .map(|q| Asked {
                file: file.to_owned(),
                line: chapter.heading(q).line,
                text: chapter.heading(q).text.clone(),
                stem: q.stem.clone().map(|r| chapter.text()[r].to_owned()).unwrap_or_default(),
            })
            .collect()
    }
}

/// The most characters two nearly identical questions differ by (a word reworded: 如何/怎么).
pub const DUPLICATE_EDITS: usize = 2;

/// Index lists longer than this are not walked for near twins.
const POSTINGS: usize = 256;

/// Fewer characters than this, normalised, and a question is only compared whole.
pub const NEAR_MIN_CHARS: usize = 8;

/// Fewer characters than this, normalised, say too little to call two questions the same
/// (`概述`, `Summary`).
const DUPLICATE_MIN_CHARS: usize = 4;

/// A question's text as the duplicate check compares it: its number (`12、`, `3.1`, `Q4:`,
/// `(2)`), punctuation and spacing gone, full-width forms as ASCII, lower case.
pub fn normalise_question(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalise_into(text, &mut out);
    out
}

/// [`normalise_question`], appended to `out`.
fn normalise_into(text: &str, out: &mut String) {
    static NUMBER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^\s*(?:(?:Q|问题|第)?\s*\d+(?:\.\d+)*\s*[、.．:：)）_\-题]?|[(（]\d+[)）])")
            .expect("a valid pattern")
    });
    let is_wide = |c: char| matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}');
    let wide: std::borrow::Cow<str> = match text.contains(is_wide) {
        false => text.into(),
        true => text
            .chars()
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                _ => c,
            })
            .collect::<String>()
            .into(),
    };
    let bare = crate::chapter::question_text(&wide);
    // Most questions start with no number: the pattern is only run when one may start here.
    let numbered = bare
        .trim_start()
        .starts_with(|c: char| c.is_numeric() || matches!(c, 'Q' | '问' | '第' | '(' | '（'));
    let rest = match numbered {
        true => NUMBER.find(bare).map_or(bare, |m| &bare[m.end()..]),
        false => bare,
    };
    for c in rest.chars() {
        // ASCII and CJK first: most of every bank, and cheaper than Unicode's tables.
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            }
        } else if crate::text::is_cjk(c) {
            out.push(c);
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        }
    }
}

/// The runs of Latin letters and digits of a normalised question, sorted.
fn latin_words(n: &[char]) -> Vec<String> {
    let text: String = n.iter().collect();
    let mut words: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    words.sort_unstable();
    words
}

/// Questions asked twice, in the same chapter or in two: the same after
/// [`normalise_question`], or nearly so: as alike as `similarity` (edit distance against the
/// longer text), at most [`DUPLICATE_EDITS`] characters apart, at least
/// [`NEAR_MIN_CHARS`] long, with the same Latin words. Questions that differ in their subject
/// are different questions: `四类映射器的基本结构` / `各类生成器的基本结构`, `controlled` /
/// `uncontrolled components`, `num` / `sum`, and short ones like `程序中的堆` / `程序中的栈`.
/// Each is reported at its later place, naming the first. Candidates are found through the
/// character pairs they share (pairs in more than one question in twenty say little and are
/// not used to find them), so the check never compares every question with every other.
pub fn duplicates(asked: &[Asked], similarity: f64) -> Vec<Finding> {
    use rayon::prelude::*;
    let keys: Vec<String> = asked.par_iter().map(|a| question_key(&a.text, &a.stem)).collect();
    twins(&keys, similarity, |_| true, |_| true)
        .into_iter()
        .map(|(i, j, alike)| {
            let first = &asked[j];
            let how = if alike >= 1.0 {
                "same question as".to_owned()
            } else {
                format!("nearly the same question ({:.0} % alike) as", alike * 100.0)
            };
            Finding {
                file: asked[i].file.clone(),
                line: asked[i].line,
                rule: Rule::DuplicateQuestion,
                message: format!("{how} {}:{} (“{}”)", first.file, first.line, first.text),
            }
        })
        .collect()
}

/// What the duplicate check compares of a question: its text and its stem (a quiz's code and
/// options), each by [`normalise_question`].
pub fn question_key(text: &str, stem: &str) -> String {
    let mut key = String::with_capacity(text.len() + stem.len());
    question_key_into(text, stem, &mut key);
    key
}

/// [`question_key`], appended to `out`.
pub fn question_key_into(text: &str, stem: &str, out: &mut String) {
    normalise_into(text, out);
    normalise_into(stem, out);
}

/// For each key of `gaps` (questions without an answer, by [`question_key`]), an answered
/// question of `answers` that asks the same by the rule of [`duplicates`] (the first, or the
/// most alike): the answer `aigcq gaps` points at and a draft is given as a reference.
pub fn answered_elsewhere(
    gaps: &[impl AsRef<str>],
    answers: &[impl AsRef<str>],
    similarity: f64,
) -> Vec<(usize, usize)> {
    // Answers first, so that each gap meets them all.
    let n = answers.len();
    let keys: Vec<&str> = answers
        .iter()
        .map(AsRef::as_ref)
        .chain(gaps.iter().map(AsRef::as_ref))
        .collect();
    twins(&keys, similarity, |i| i >= n, |i| i < n)
        .into_iter()
        .map(|(i, j, _)| (i - n, j))
        .collect()
}

/// For each key that `wants`, the earlier one among those that `offers` it is a twin of (see
/// [`duplicates`]), and how alike the two are (1 for the same).
fn twins(
    keys: &[impl AsRef<str>],
    similarity: f64,
    wants: impl Fn(usize) -> bool,
    offers: impl Fn(usize) -> bool,
) -> Vec<(usize, usize, f64)> {
    // Everything once per distinct key, counted as often as it is asked: a bank that repeats
    // a question, or a book copied many times, costs what one copy does.
    let mut key_of: rustc_hash::FxHashMap<&str, usize> = Default::default();
    let mut times: Vec<usize> = Vec::new();
    let key: Vec<usize> = keys
        .iter()
        .map(|k| {
            let next = key_of.len();
            let id = *key_of.entry(k.as_ref()).or_insert(next);
            if id == times.len() {
                times.push(0);
            }
            times[id] += 1;
            id
        })
        .collect();
    let mut norm: Vec<Vec<char>> = vec![Vec::new(); times.len()];
    for (k, &id) in &key_of {
        norm[id] = k.chars().collect();
    }
    let grams: Vec<rustc_hash::FxHashSet<(char, char)>> = norm
        .iter()
        .map(|n| n.windows(2).map(|w| (w[0], w[1])).collect())
        .collect();
    let mut df: rustc_hash::FxHashMap<(char, char), usize> = Default::default();
    for (g, &t) in grams.iter().zip(&times) {
        for &p in g {
            *df.entry(p).or_default() += t;
        }
    }
    let common = (keys.len() / 20).max(8);
    let mut index: rustc_hash::FxHashMap<(char, char), Vec<usize>> = Default::default();
    // Only the first of identical keys enters the index, so that its lists stay short.
    let mut first_of: rustc_hash::FxHashMap<usize, usize> = Default::default();
    let mut out = Vec::new();
    for (i, &k) in key.iter().enumerate() {
        let n = &norm[k];
        if n.len() < DUPLICATE_MIN_CHARS {
            continue;
        }
        if let Some(&j) = first_of.get(&k) {
            if wants(i) {
                out.push((i, j, 1.0));
            }
            continue;
        }
        let rare: Vec<&(char, char)> = grams[k].iter().filter(|p| df[*p] <= common).collect();
        if wants(i) {
            let mut shared: rustc_hash::FxHashMap<usize, usize> = Default::default();
            for p in &rare {
                let list = index.get(p).map_or(&[][..], Vec::as_slice);
                // A pair that many distinct questions share finds no near twin worth the walk.
                if list.len() > POSTINGS {
                    continue;
                }
                for &j in list {
                    *shared.entry(j).or_default() += 1;
                }
            }
            let mut best: Option<(usize, f64)> = None;
            for (&j, _) in shared
                .iter()
                .filter(|&(_, &c)| c * 2 >= rare.len().min(grams[k].len()).max(1))
            {
                let m = &norm[key[j]];
                let longer = n.len().max(m.len());
                let edits = strsim::generic_levenshtein(n, m);
                let alike = 1.0 - edits as f64 / longer as f64;
                let near = edits == 0
                    || edits <= DUPLICATE_EDITS
                        && n.len().min(m.len()) >= NEAR_MIN_CHARS
                        && latin_words(n) == latin_words(m);
                if alike >= similarity && near && best.is_none_or(|(b, s)| alike > s || alike == s && j < b) {
                    best = Some((j, alike));
                }
            }
            if let Some((j, alike)) = best {
                out.push((i, j, alike));
            }
        }
        if offers(i) {
            first_of.insert(k, i);
            for p in rare {
                index.entry(*p).or_default().push(i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapter::Rules;

    fn asked(file: &str, texts: &[&str]) -> Vec<Asked> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| Asked {
                file: file.into(),
                line: 10 * (i + 1),
                text: (*t).into(),
                stem: String::new(),
            })
            .collect()
    }

    #[test]
    fn a_gap_is_answered_elsewhere_by_the_same_or_nearly_the_same_answered_question() {
        let key = |t: &str| question_key(t, "");
        let answers: Vec<String> = [
            "1、什么是扩散模型？",
            "2、LoRA 为什么能减少显存？",
            "3、DiT 的结构是怎样的？",
        ]
        .map(key)
        .into();
        let gaps: Vec<String> = [
            "7．什么是扩散模型?",         // the same
            "8、LoRA为什么能减少显存",    // the same, spacing and punctuation aside
            "9、DiT 的结构是怎么样的",    // one character more
            "10、DiT 的训练目标是什么？", // the same topic only
            "11、什么是扩散模型？",       // the same as another gap and an answer
        ]
        .map(key)
        .into();
        assert_eq!(
            answered_elsewhere(&gaps, &answers, 0.85),
            [(0, 0), (1, 1), (2, 2), (4, 0)]
        );
        assert!(
            answered_elsewhere(&gaps, &[] as &[String], 0.85).is_empty(),
            "gaps never answer each other"
        );
    }

    #[test]
    fn questions_are_compared_without_numbers_punctuation_width_spacing_or_case() {
        for (a, b) in [
            ("12、什么是扩散模型？", "3. 什么是扩散模型?"),
            ("Q4: What is LoRA?", "what  is LoRA"),
            ("（2）ＤｉＴ 的结构是怎样的？", "DiT的结构是怎样的"),
            ("**5.1 为什么 VAE 会模糊？**", "为什么VAE会模糊"),
        ] {
            assert_eq!(normalise_question(a), normalise_question(b), "{a} / {b}");
        }
    }

    #[test]
    fn near_duplicates_are_found_across_chapters_and_topics_alone_are_not() {
        let mut all = asked(
            "a.md",
            &[
                "1、什么是扩散模型？",
                "2、Transformer 的自注意力如何计算？",
                "3、LoRA 为什么能减少显存？",
                "4、概述",
            ],
        );
        all.extend(asked(
            "b.md",
            &[
                "7．什么是扩散模型?",                 // renumbered, width and punctuation
                "8、Transformer的自注意力怎么计算？", // a word changed
                "9、扩散模型的训练目标是什么？",      // the same topic only
                "10、LoRA 的秩如何选择？",            // the same topic only
                "11、概述",                           // too short to say
                "12、LoRA为什么能减少显存",           // punctuation and spacing
            ],
        ));
        let found = duplicates(&all, 0.85);
        let lines: Vec<(&str, usize, &str)> = found
            .iter()
            .map(|f| (f.file.as_str(), f.line, f.message.as_str()))
            .collect();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert_eq!(lines[0].1, 10);
        assert!(
            lines[0]
                .2
                .starts_with("same question as a.md:10 (“1、什么是扩散模型？”)"),
            "{}",
            lines[0].2
        );
        assert!(
            lines[1].2.starts_with("nearly the same question (") && lines[1].2.contains("a.md:20"),
            "{}",
            lines[1].2
        );
        assert!(lines[2].2.contains("a.md:30"), "{}", lines[2].2);
        assert!(duplicates(&all, 1.0).len() == 2, "only identical ones at 1");

        // Alike in their letters, different in their subject.
        let unlike = [
            ("a.md", "5.2.6.2 面试问题：四类映射器的基本结构与计算流程对比"),
            ("a.md", "5.2.10.2 面试问题：各类生成器的基本结构与计算流程对比"),
            ("b.md", "What are controlled components?"),
            ("b.md", "What are uncontrolled components?"),
            ("c.md", "21. What's the value of `sum`?"),
            ("c.md", "49. What's the value of `num`?"),
            ("d.md", "943.C/C++程序中的堆"),
            ("d.md", "944.C/C++程序中的栈"),
        ];
        let all: Vec<Asked> = unlike
            .iter()
            .enumerate()
            .map(|(i, (f, t))| Asked {
                file: (*f).into(),
                line: i + 1,
                text: (*t).into(),
                stem: String::new(),
            })
            .collect();
        assert!(duplicates(&all, 0.85).is_empty(), "{:#?}", duplicates(&all, 0.85));

        // A quiz's question over other code is another question; over the same code, the same.
        let quiz = |line: usize, stem: &str| Asked {
            file: "quiz.md".into(),
            line,
            text: "104. What's its value?".into(),
            stem: stem.into(),
        };
        let stems = [
            quiz(1, "```js\nPromise.resolve(5)\n```"),
            quiz(2, "```js\n[1, 2, 3].map(x => x)\n```"),
        ];
        assert!(duplicates(&stems, 0.85).is_empty());
        let same = [
            quiz(1, "```js\nPromise.resolve(5)\n```"),
            quiz(2, "```js\nPromise.resolve(5)\n```"),
        ];
        assert_eq!(duplicates(&same, 0.85).len(), 1);
    }

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
