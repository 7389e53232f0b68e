//! The quality gate: checks each cleaned draft before a person reads it, so that an English
//! answer to a Chinese chapter, a copied style example or reference, the prompt's own text
//! leaking into the answer, a degenerate loop, an answer to another question, broken
//! Markdown or a made-up link arrive flagged rather than as ordinary candidates. Each finding
//! is a [`Warning`] with a code; none blocks the draft.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::chapter::{Chapter, Rules, near_key};
use crate::check::{self, Rule};
use crate::identity::QuestionRef;
use crate::llm::Messages;
use crate::prompt::{ChapterFacts, Frame};
use crate::refs::Reference;
use crate::store::Warning;
use crate::text::{language, visible_chars};

/// Every code the gate gives, as `review --list` and `--json` show them.
pub const CODES: [&str; 10] = [
    "language",
    "length",
    "repetition",
    "copied",
    "leak",
    "question",
    "topic",
    "lint",
    "links",
    "terminology",
];

/// What a draft is checked against.
pub struct Subject<'a> {
    /// What the chapter is like (language, lengths, anchors).
    pub facts: &'a ChapterFacts<'a>,
    /// The draft's question (its index and how the merge finds it).
    pub question: QuestionRef<'a>,
    /// The question's number in its chapter.
    pub index: usize,
    /// What the model was sent.
    pub messages: &'a Messages,
    /// The references the prompt held.
    pub references: &'a [Reference],
    /// Text of the prompt the answer may repeat: the current answer of a rewrite, a stub.
    pub existing: Option<&'a str>,
    /// The chapter model's rules.
    pub rules: &'a Rules,
    /// Whether a local link target exists, relative to the chapter's folder.
    pub exists: &'a dyn Fn(&str) -> bool,
    /// The template's own text, which no answer should hold.
    pub frame: &'a Frame,
    /// Non-blank characters copied from one reference in a row that count as copying it
    /// (`[draft] reference_copy_chars`; 0: not checked).
    pub reference_copy: usize,
    /// The book's terms, whose avoided forms are a `terminology` warning.
    pub glossary: Option<&'a crate::glossary::Glossary>,
}

/// The warnings for `body`, in [`CODES`] order.
pub fn check(body: &str, s: &Subject) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |code: &str, message: String| {
        out.push(Warning {
            code: code.into(),
            message,
        })
    };
    if let Some(m) = wrong_language(body, s.facts.language()) {
        warn("language", m);
    }
    if let Some(m) = odd_length(body, s.facts) {
        warn("length", m);
    }
    if let Some(m) = repetition(body) {
        warn("repetition", m);
    }
    if let Some(m) = copied(body, s).or_else(|| copied_reference(body, s)) {
        warn("copied", m);
    }
    if let Some(m) = leak(body, s.frame) {
        warn("leak", m);
    }
    let other = other_question(body, s.facts, s.index);
    let topic = other.is_none().then(|| off_topic(body, s)).flatten();
    if let Some(m) = other {
        warn("question", m);
    }
    if let Some(m) = topic {
        warn("topic", m);
    }
    if let Some(m) = lint(body, s) {
        warn("lint", m);
    }
    if let Some(m) = unknown_links(body, s) {
        warn("links", m);
    }
    if let Some(m) = s.glossary.and_then(|g| crate::glossary::describe(&g.avoided_in(body))) {
        warn("terminology", m);
    }
    out
}

/// Letters needed before a language can be told.
const LANGUAGE_LETTERS: usize = 40;

fn wrong_language(body: &str, chapter: &str) -> Option<String> {
    // Code says nothing about the language an answer is written in.
    let prose = crate::chapter::html::outside_code(body);
    let letters = prose.chars().filter(|c| c.is_alphabetic()).count();
    let found = language(&prose);
    (letters >= LANGUAGE_LETTERS && found != chapter).then(|| {
        let name = |l: &str| if l == "zh" { "Chinese" } else { "English" };
        format!("the answer is in {}, the chapter in {}", name(found), name(chapter))
    })
}

/// How far from the chapter's median an answer's length may be, as a factor.
const LENGTH_FACTOR: usize = 4;
/// Answered questions needed for a median to mean something.
const LENGTH_SAMPLE: usize = 3;

fn odd_length(body: &str, facts: &ChapterFacts) -> Option<String> {
    let median = facts.median_answer_chars(LENGTH_SAMPLE)?;
    let n = visible_chars(body);
    let how = if n * LENGTH_FACTOR < median {
        "shorter"
    } else if n > median * LENGTH_FACTOR {
        "longer"
    } else {
        return None;
    };
    Some(format!(
        "{n} characters, more than {LENGTH_FACTOR}× {how} than the chapter's answers (median {median})"
    ))
}

/// Characters in a shingle for the repetition and copy checks.
const SHINGLE: usize = 12;

fn repetition(body: &str) -> Option<String> {
    // A line said again and again (not table rules, fences or separators).
    let mut lines: HashMap<&str, usize> = HashMap::new();
    for l in body.lines().map(str::trim).filter(|l| visible_chars(l) >= 8) {
        if !l.chars().all(|c| "|-:=*_`~# ".contains(c)) {
            *lines.entry(l).or_default() += 1;
        }
    }
    if let Some((line, n)) = lines.into_iter().filter(|&(_, n)| n >= 4).max_by_key(|&(l, n)| (n, l)) {
        let shown: String = line.chars().take(40).collect();
        return Some(format!("the line “{shown}” comes {n} times"));
    }
    // The same few words over and over: few distinct shingles among many.
    let chars: Vec<char> = body.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.len() < SHINGLE * 20 {
        return None;
    }
    let mut hashes = shingles(&chars);
    let total = hashes.len();
    hashes.sort_unstable();
    hashes.dedup();
    let distinct = hashes;
    (distinct.len() * 5 < total * 2).then(|| {
        format!(
            "only {}% of its {SHINGLE}-character passages are distinct: it repeats itself",
            distinct.len() * 100 / total
        )
    })
}

/// A rolling hash of every `SHINGLE` characters in a row: sorting and searching these costs
/// far less than hashing each window's characters into a set, on every draft.
fn shingles(chars: &[char]) -> Vec<u64> {
    const BASE: u64 = 1_000_003;
    if chars.len() < SHINGLE {
        return Vec::new();
    }
    let top = (1..SHINGLE).fold(1u64, |p, _| p.wrapping_mul(BASE));
    let mut h = chars[..SHINGLE]
        .iter()
        .fold(0u64, |h, &c| h.wrapping_mul(BASE).wrapping_add(c as u64));
    let mut out = Vec::with_capacity(chars.len() - SHINGLE + 1);
    out.push(h);
    for i in SHINGLE..chars.len() {
        h = h
            .wrapping_sub((chars[i - SHINGLE] as u64).wrapping_mul(top))
            .wrapping_mul(BASE)
            .wrapping_add(chars[i] as u64);
        out.push(h);
    }
    out
}

/// Non-blank characters of a passage that count as copied.
const COPIED_CHARS: usize = 60;
/// Table-of-contents entries an answer may repeat as lines of its own.
const TOC_LINES: usize = 3;

fn copied(body: &str, s: &Subject) -> Option<String> {
    let toc = s.facts.toc_keys();
    let listed = body
        .lines()
        .map(|l| near_key(l.trim().trim_start_matches(['-', '*', '+', '#']).trim()))
        .filter(|k| toc.contains(k))
        .count();
    if listed >= TOC_LINES {
        return Some(format!("{listed} lines are entries of the chapter's table of contents"));
    }
    // The prompt without what an answer may rightly repeat: the references and the text it
    // was asked to build on.
    let mut prompt = s.messages.system.clone().unwrap_or_default();
    prompt.push('\n');
    prompt.push_str(&s.messages.user);
    for r in s.references {
        prompt = prompt.replace(&r.text, "");
    }
    if let Some(e) = s.existing.filter(|e| !e.is_empty()) {
        prompt = prompt.replace(e, "");
    }
    let source = squeezed(&prompt);
    let text = squeezed(body);
    if source.len() < SHINGLE || text.len() < COPIED_CHARS {
        return None;
    }
    let mut seen = sorted_shingles(&source);
    // What the answer builds on may be in the prompt again, cut, as a style example of its
    // chapter: keeping it is no copying.
    if let Some(e) = s.existing.filter(|e| !e.is_empty()) {
        let kept = sorted_shingles(&squeezed(e));
        seen.retain(|h| kept.binary_search(h).is_err());
    }
    let found = longest_run(&text, &seen);
    (found.len() >= COPIED_CHARS).then(|| copied_passage(&text, found, "the prompt"))
}

/// `s` without its whitespace, as the copy and leak checks compare text.
fn squeezed(s: &str) -> Vec<char> {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The shingles of `chars`, sorted for [`longest_run`].
fn sorted_shingles(chars: &[char]) -> Vec<u64> {
    let mut out = shingles(chars);
    out.sort_unstable();
    out
}

/// The finding for the passage `found` of `text`, copied from `source`.
fn copied_passage(text: &[char], found: std::ops::Range<usize>, source: &str) -> String {
    let len = found.len();
    let shown: String = text[found].iter().take(30).collect();
    format!("a passage of {len} characters is copied from {source} (“{shown}…”)")
}

/// The longest passage of `text` whose every shingle is in `seen` (sorted), as a range of
/// `text`; empty when none is.
fn longest_run(text: &[char], seen: &[u64]) -> std::ops::Range<usize> {
    let (mut best, mut run, mut best_end) = (0, 0, 0);
    for (i, h) in shingles(text).into_iter().enumerate() {
        run = if seen.binary_search(&h).is_ok() { run + 1 } else { 0 };
        if run > best {
            best = run;
            best_end = i + SHINGLE;
        }
    }
    let len = if best == 0 { 0 } else { best + SHINGLE - 1 };
    best_end - len..best_end
}

/// A passage copied word for word from one reference: quoting a fact is fine, copying a
/// paragraph (its heading included) is not.
fn copied_reference(body: &str, s: &Subject) -> Option<String> {
    if s.reference_copy == 0 {
        return None;
    }
    let text = squeezed(body);
    s.references.iter().find_map(|r| {
        let found = longest_run(&text, &sorted_shingles(&squeezed(&r.text)));
        (found.len() >= s.reference_copy.max(SHINGLE))
            .then(|| copied_passage(&text, found, &format!("the reference {}", r.source)))
    })
}

/// Characters of a Latin passage of the frame that count as leaked; a passage mostly of CJK
/// characters counts from [`SHINGLE`] on.
const LEAK_LATIN_CHARS: usize = 32;

/// The template's own text in the answer: one of its tags (`</示例>`), one of its lines whole
/// (`……（示例截断）`), or a passage of one (`以下是这道题的参考资料`).
fn leak(body: &str, frame: &Frame) -> Option<String> {
    for tag in &frame.tags {
        let forms = [format!("<{tag}>"), format!("<{tag} "), format!("</{tag}>")];
        if let Some(form) = forms.iter().find(|f| body.contains(f.as_str())) {
            return Some(format!("the prompt's tag {} is in the answer", form.trim_end()));
        }
    }
    let text = squeezed(body);
    let joined: String = text.iter().collect();
    if let Some(line) = frame
        .lines
        .iter()
        .find(|l| joined.contains(&squeezed(l).into_iter().collect::<String>()))
    {
        let shown: String = line.chars().take(30).collect();
        return Some(format!("the prompt's own line “{shown}” is in the answer"));
    }
    let mut seen: Vec<u64> = frame.lines.iter().flat_map(|l| shingles(&squeezed(l))).collect();
    seen.sort_unstable();
    let found = longest_run(&text, &seen);
    let cjk = text[found.clone()].iter().filter(|c| crate::text::is_cjk(**c)).count();
    let enough = if cjk * 2 >= found.len() {
        SHINGLE
    } else {
        LEAK_LATIN_CHARS
    };
    (!found.is_empty() && found.len() >= enough).then(|| {
        let shown: String = text[found].iter().take(30).collect();
        format!("the prompt's own text “{shown}” is in the answer")
    })
}

/// Mentions of another question's own term that make an answer about it.
const TOPIC_MENTIONS: usize = 2;
/// Answers of the chapter that may use a term before it is the chapter's vocabulary rather
/// than one question's subject.
const SUBJECT_ANSWERS: usize = 2;

/// An answer about another question: it never names its own question's subject (its key
/// terms, [`crate::text::key_terms`], that few answers of the chapter use) and names another
/// question's, again and again. One pass over the answer's words, whatever the chapter's size.
fn off_topic(body: &str, s: &Subject) -> Option<String> {
    let owners = s.facts.question_terms();
    let subject = |t: &str| owners.get(t).is_some_and(|(_, answers)| *answers <= SUBJECT_ANSWERS);
    let own: Vec<String> = crate::text::key_terms(s.question.text, s.facts.language() == "zh")
        .into_iter()
        .filter(|t| subject(t))
        .collect();
    if own.is_empty() {
        return None;
    }
    let mut said: HashMap<String, usize> = HashMap::new();
    for w in crate::text::words(&crate::chapter::html::outside_code(body)) {
        *said.entry(w.to_ascii_lowercase()).or_default() += 1;
    }
    if own.iter().any(|t| said.contains_key(t)) {
        return None;
    }
    said.into_iter()
        .filter(|(t, m)| *m >= TOPIC_MENTIONS && subject(t))
        .filter_map(|(t, m)| {
            let n = owners.get(&t)?.0.iter().copied().find(|n| *n != s.index)?;
            Some((m, n, t))
        })
        .max()
        .map(|(m, n, t)| {
            format!(
                "it names “{t}” (question {n}) {m} times and never “{}”, its own question's subject",
                own.join("”, “")
            )
        })
}

static NUMBER_AT_TOP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[#*_>\s]*(?:第\s*)?(\d{1,4})\s*(?:[.、．:：题)]|\s)").expect("valid"));

/// Lines at the top of an answer where a wrong question shows.
const TOP_LINES: usize = 3;

fn other_question(body: &str, facts: &ChapterFacts, own: usize) -> Option<String> {
    let top: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(TOP_LINES)
        .collect();
    let questions = facts.question_keys();
    for line in &top {
        let key = near_key(line);
        if let Some((n, text)) = NUMBER_AT_TOP
            .captures(line)
            .and_then(|c| c[1].parse::<usize>().ok())
            .filter(|n| *n != own)
            .and_then(|n| questions.binary_search_by_key(&n, |q| q.0).ok().map(|i| &questions[i]))
            .map(|(n, k, _)| (n, k))
        {
            // `1. 先说结论` opens a list, not question 1: only a line that also names the
            // question counts, or a number with 题.
            if line.contains('题') || key.contains(text.as_str()) {
                return Some(format!(
                    "it opens with question {n}: “{}”",
                    line.chars().take(40).collect::<String>()
                ));
            }
        }
        if let Some((n, _, text)) = facts.questions_named_in(&key).into_iter().find(|(n, _, _)| *n != own) {
            return Some(format!("it opens with question {n}: “{text}”"));
        }
    }
    None
}

/// The `check` rules about an answer's own Markdown.
const LINT_RULES: [Rule; 4] = [Rule::ImageAlt, Rule::TableColumns, Rule::HeadingJump, Rule::LocalTarget];

fn lint(body: &str, s: &Subject) -> Option<String> {
    // The answer under its question alone, not merged into the whole chapter: these rules
    // look only at the answer, and a parse per draft stays the answer's size.
    let level = s.question.level.clamp(1, 6);
    let doc = format!("{} {}\n\n{body}\n", "#".repeat(level.into()), s.question.text);
    let chapter = Chapter::parse(&doc, s.rules);
    let found: Vec<String> = check::lint(&chapter, "", s.exists)
        .into_iter()
        .filter(|f| LINT_RULES.contains(&f.rule) && f.line > 2)
        .map(|f| format!("{} (answer line {}): {}", f.rule.name(), f.line - 2, f.message))
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

static URL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"https?://[^\s<>()\[\]"'`，。）]+"#).expect("valid"));

fn unknown_links(body: &str, s: &Subject) -> Option<String> {
    let known = |u: &str| {
        let u = u.trim_end_matches(['.', ',', ';', ':', '!', '?', '/']);
        // The prompt holds the references' text (a revision's too).
        s.references.iter().any(|r| r.source.starts_with(u))
            || s.messages.user.contains(u)
            || s.messages.turns.iter().any(|t| t.content.contains(u))
            || s.facts.chapter.text().contains(u)
    };
    let mut unknown: Vec<&str> = URL.find_iter(body).map(|m| m.as_str()).filter(|u| !known(u)).collect();
    unknown.dedup();
    (!unknown.is_empty()).then(|| {
        let shown: Vec<&str> = unknown.iter().take(3).copied().collect();
        let more = if unknown.len() > 3 {
            format!(" and {} more", unknown.len() - 3)
        } else {
            String::new()
        };
        format!(
            "not in any reference or the chapter, possibly made up: {}{more}",
            shown.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetition_by_lines_and_by_passages() {
        assert!(
            repetition("甲乙丙丁戊己庚辛\n".repeat(4).as_str())
                .unwrap()
                .contains("4 times")
        );
        // A loop inside one paragraph: no line repeats, the passages do.
        let looped = format!("{}。", "模型会不断重复同一句话".repeat(30));
        assert!(repetition(&looped).unwrap().contains("distinct"), "{looped}");
        // Table rules and ordinary prose are not repetition.
        let table = "| a | b |\n| --- | --- |\n".repeat(5);
        assert_eq!(repetition(&table), None);
        let prose = "扩散模型先加噪再去噪，训练稳定，样本多样。VAE 把输入编码为分布再解码重建。GAN 让生成器与判别器博弈，图像清晰但训练不稳。Transformer 用注意力建模长程依赖，可并行训练。";
        assert_eq!(repetition(prose), None);
    }

    #[test]
    fn code_does_not_decide_the_language() {
        let body = "用法如下：\n\n```python\nfor item in items:\n    print(item.name, item.value, item.description)\n    total = total + item.value\n```\n";
        assert_eq!(wrong_language(body, "zh"), None);
        let english = "The model adds noise step by step and then learns to remove it again.";
        assert!(wrong_language(english, "zh").is_some());
    }

    #[test]
    fn an_answer_that_opens_with_another_question_of_the_chapter() {
        let rules = crate::chapter::Rules::new(&crate::chapter::QuestionConfig::default()).unwrap();
        let text = "# 生成模型\n\n## 1、什么是扩散模型？\n\n## 2、VAE 的重参数化技巧是什么？\n\n## 3、GAN\n\n答。\n";
        let chapter = crate::chapter::Chapter::parse(text, &rules);
        let facts = crate::prompt::ChapterFacts::new(&chapter, "ch.md");
        // Named whole, anywhere in one of the first lines.
        let named = "先看第 2、VAE 的重参数化技巧是什么？这个问题。\n\n正文。";
        assert_eq!(
            other_question(named, &facts, 1).as_deref(),
            Some("it opens with question 2: “2、VAE 的重参数化技巧是什么？”")
        );
        // By number with the question's words; its own question is never another.
        assert!(other_question("2、VAE 的重参数化技巧是什么？\n\n正文。", &facts, 1).is_some());
        assert_eq!(other_question(named, &facts, 2), None);
        // A list that starts at 1, and a key of under six characters, name nothing.
        assert_eq!(other_question("1. 先说结论\n2. GAN 更快", &facts, 2), None);
    }
}
