//! What counts as a question, a structural heading, a placeholder, a metadata line or an outline.
//! The defaults fit the heading styles of real Chinese interview books; `aigcq.toml` overrides them.

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

/// The `[questions]` table of `aigcq.toml`: regular expressions, matched case-insensitively.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QuestionConfig {
    /// A heading whose text matches one of these is a question (unless it sits inside an answer).
    pub patterns: Vec<String>,
    /// A heading matching one of these is a question even inside another question's answer.
    pub strong_patterns: Vec<String>,
    /// Headings that are never questions (tables of contents, chapter titles).
    pub structural: Vec<String>,
    /// A line made only of one of these marks an unwritten answer.
    pub placeholders: Vec<String>,
    /// Metadata lines (difficulty, frequency) that are not an answer by themselves.
    pub metadata: String,
    /// Answer labels such as `**回答：**` that are not an answer by themselves.
    pub label: String,
    /// A line listing a sub-question (`Q1：为什么…？`).
    pub outline: String,
    /// Less prose than this many characters (outside links) is a stub, unless
    /// `short_answers` takes it as a terse answer.
    pub min_prose_chars: usize,
    /// A short answer that states something (`O(n^2)`, `封装，继承和多态。`) is an answer; a
    /// stub is only a pointer elsewhere, a lone link or bare URL, or bare labels.
    pub short_answers: bool,
    /// A short line holding one of these points elsewhere or promises an answer later
    /// (`点击查看详细答案`, `以后补`): a stub, not an answer.
    pub stub_phrases: Vec<String>,
    /// A line that only labels what should follow it (`页式管理：`, `Useful resources:`):
    /// labels with nothing after them are a stub.
    pub bare_label: String,
    /// `<summary>` texts that label an answer block (`Answer`, `展开`), never a question.
    pub summary_labels: String,
    /// A `<summary>` starting so sets a task (`Explain vmstat output`, `说明…`): in a bank of
    /// summaries it counts as asking, like one that ends with `?`.
    pub tasks: String,
    /// A page whose title or front matter matches this calls itself an FAQ: every heading at
    /// its question level is a question, statements of a problem too.
    pub faq: String,
}

impl Default for QuestionConfig {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|p| p.to_string()).collect();
        QuestionConfig {
            patterns: s(&[
                // 7.  7、  7．  (not 7.1, which the dotted form below takes)
                r"^\d+\s*(?:[、．]|\.(?:\D|$))",
                // 5.1.1.1 / 4.4.1_… ; a leading zero (01.02_LeNet) is a file code, not a number
                r"^[1-9]\d*(?:\.\d+)+(?:[\s_:：、.]|$)",
                r"^Q\d+",
                r"^[(（]\d+[)）]",
                r"[?？]\s*$",
            ]),
            strong_patterns: s(&[r"^(?:[1-9][\d.]*[\s_]*)?面试问题\s*\d*\s*[:：\-_]"]),
            structural: s(&[
                r"^\W*(?:目录|目錄|contents|table of contents|toc)(?:导航)?\W*$",
                r"^\W*第[一二三四五六七八九十百零〇两\d]+[章节篇部]",
                // Reference sections list sources; they ask nothing.
                r"^\W*(?:参考|参考资料|参考文献|参考链接|引用|references?|see also|further reading|resources)\W*$",
            ]),
            placeholders: s(&[
                "待补充",
                "待更新",
                "待完善",
                "待续",
                "未完待续",
                "敬请期待",
                "TODO",
                "TBD",
                "WIP",
                "coming soon",
                "to be continued",
                "to be (?:completed|added|written|done)",
                r"\.\.\.",
                "…+",
            ]),
            metadata: r"^[\s*_>（(]*(?:难度评分|难度|考察频率|出现频率|频率|考察重点|标签|tags?|注)\s*[:：]".into(),
            label: r"^[\s*_>]*(?:回答|答案|答|解答|问题解答|参考答案|answer)\s*[:：]?[\s*_]*[:：]?\s*$".into(),
            outline: r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?(?:Q\d+\s*[:：.、]|.*[?？]\s*$)".into(),
            min_prose_chars: 16,
            short_answers: true,
            stub_phrases: s(&[
                r"点击查看",
                r"(?:详|参|请)见",
                r"^见(?:下|上|前|后|图|表|附|第)",
                // A pointer word before a link: `见[链接](…)`, `See [the docs](…)`.
                r"^(?:见|参考|参看|see|cf\.?)\s*[:：]?\s*[\[<]",
                r"请看",
                r"参考(?:阅读|链接|文献|原文)",
                r"原文链接",
                r"答案(?:见|在)",
                r"以后(?:再)?补",
                r"后续(?:补充|更新)",
                r"\bsee (?:the )?(?:answer|link|here|below)\b",
                r"\bclick here\b",
                r"\bread more\b",
            ]),
            // A few words and a colon, nothing after.
            bare_label: r"^(?:[-*+]\s+)?[*_]*[^\s:：*_][^:：]{0,30}?[*_]*\s*[:：][*_]*\s*$".into(),
            summary_labels: r"^\W*(?:answer|answers|solution|hint|show(?: answer)?|click(?: to (?:expand|show))?|expand|see (?:.*)|hide/show.*|展开|点击展开|答案|解答|参考答案|查看答案)\W*$".into(),
            tasks: TASKS.into(),
            faq: r"\bFAQs?\b|frequently asked|常见问题|常见问答|常见疑问".into(),
        }
    }
}

/// [`QuestionConfig`] compiled.
#[derive(Debug, Clone)]
pub struct Rules {
    pub(crate) question: Regex,
    pub(crate) strong: Regex,
    pub(crate) structural: Regex,
    /// label, placeholder, metadata, outline, numbered-line, URL and bare-label patterns in
    /// one pass over a line; indices are [`LineKind`]'s, without `Pointer`.
    pub(crate) lines: RegexSet,
    /// Kept out of `lines`: its `\b`s would push the whole set onto the slow engine on every
    /// non-ASCII line, and only short lines need it.
    pub(crate) stub: Regex,
    pub(crate) min_prose: usize,
    pub(crate) short_answers: bool,
    pub(crate) summary_label: Regex,
    pub(crate) task: Regex,
    pub(crate) faq: Regex,
}

/// What a short line of an answer is, in the order [`Rules::line_kind`] prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    Label,
    Placeholder,
    Metadata,
    Outline,
    /// `1. …`, `(2) …`: part of an outline when a neighbour asks a question, else prose.
    Numbered,
    /// Only a URL (`https://…`, `<https://…>`), perhaps with a note glued to it.
    Url,
    /// Points elsewhere or promises an answer later: a [`QuestionConfig::stub_phrases`] match.
    Pointer,
    /// A label with nothing after it: [`QuestionConfig::bare_label`].
    BareLabel,
    Prose,
}

/// Imperatives and question words a task or question starts with.
const TASKS: &str = concat!(
    r"^(?:(?:please\s+)?(?:explain|describe|list|name|compare|contrast|define|write|implement|give|",
    r"show|tell|draw|configure|create|find|design|discuss|summari[sz]e|outline|demonstrate|",
    r"illustrate|provide|identify|suggest|prepare|calculate|state|mention|elaborate|walk through|",
    r"what|why|how|when|where|which|who|whose|is|are|can|could|do|does|did|should|would|will|",
    r"have|has)\b|请|说明|简述|简要|解释|描述|比较|对比|列举|列出|谈谈|说说|讲讲|介绍|阐述|分析|写出|",
    r"实现|设计|什么|为什么|为何|如何|怎么|怎样|是否|哪些|哪个)"
);

/// A numbered line: `1. …`, `- 2) …`, `(3) …`, `Q4 …`.
const NUMBERED: &str = r"^(?:[-*+]\s+)?(?:\d+[.)、．]|[(（]\d+[)）]|Q\d+)\s*\S";

/// A line that is one URL: bare, in `<…>`, in a list item.
const URL_LINE: &str = r"^(?:[-*+]\s+|\d+[.)]\s+)?[<(\[]?(?:https?|ftp)://\S+$";

/// A pattern in `[questions]` that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("invalid pattern in [questions].{field}: {source}")]
pub struct PatternError {
    /// The setting whose pattern is wrong.
    pub field: &'static str,
    #[source]
    /// What the regular expression engine says.
    pub source: regex::Error,
}

/// `(?:a)|(?:b)|…`; an empty list matches nothing.
fn alternation(patterns: &[String]) -> String {
    if patterns.is_empty() {
        return r"[^\s\S]".to_string();
    }
    patterns
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|")
}

fn build(field: &'static str, pattern: &str) -> Result<Regex, PatternError> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .map_err(|source| PatternError { field, source })
}

impl Rules {
    /// The rules of `c`, its patterns compiled once.
    pub fn new(c: &QuestionConfig) -> Result<Rules, PatternError> {
        let placeholder = format!(
            r"^[\s*_>#\-~（(\[]*(?:{})[\s*_。.!！~～…:：)）\]\-]*$",
            alternation(&c.placeholders)
        );
        let fields = [
            ("label", c.label.as_str()),
            ("placeholders", &placeholder),
            ("metadata", &c.metadata),
            ("outline", &c.outline),
            ("numbered", NUMBERED),
            ("url", URL_LINE),
            ("bare_label", &c.bare_label),
        ];
        let lines = RegexSetBuilder::new(fields.map(|(_, p)| p))
            .case_insensitive(true)
            .build()
            .map_err(|source| {
                // Compiling costs time at every start, so fields are compiled one by one only
                // to name the one that fails.
                fields
                    .iter()
                    .find_map(|&(field, p)| build(field, p).err())
                    .unwrap_or(PatternError {
                        field: "label, placeholders, metadata, outline, bare_label",
                        source,
                    })
            })?;
        let stub = build("stub_phrases", &alternation(&c.stub_phrases))?;
        Ok(Rules {
            lines,
            stub,
            question: build("patterns", &alternation(&c.patterns))?,
            strong: build("strong_patterns", &alternation(&c.strong_patterns))?,
            structural: build("structural", &alternation(&c.structural))?,
            min_prose: c.min_prose_chars,
            short_answers: c.short_answers,
            summary_label: build("summary_labels", &c.summary_labels)?,
            task: build("tasks", &c.tasks)?,
            faq: build("faq", &c.faq)?,
        })
    }
}

impl Rules {
    /// Whether a line (trimmed) only marks an unwritten answer, such as `待补充`.
    pub fn is_placeholder(&self, line: &str) -> bool {
        self.line_kind(line.trim()) == LineKind::Placeholder
    }

    /// Classifies one trimmed line of an answer. A line that says `详见` is a pointer only
    /// when short ([`POINTER_CHARS`]); a long one explains something.
    pub(crate) fn line_kind(&self, line: &str) -> LineKind {
        const ORDER: [LineKind; 6] = [
            LineKind::Label,
            LineKind::Placeholder,
            LineKind::Metadata,
            LineKind::Outline,
            LineKind::Numbered,
            LineKind::Url,
        ];
        let hits = self.lines.matches(line);
        if let Some((_, kind)) = ORDER.into_iter().enumerate().find(|&(i, _)| hits.matched(i)) {
            return kind;
        }
        let bare = hits.matched(ORDER.len());
        let short = crate::text::visible_chars(line) <= POINTER_CHARS;
        // The stub phrases decide only a short line or a bare label (which a long pointer
        // makes prose); skipping them elsewhere keeps scanning fast.
        match (short || bare) && self.stub.is_match(line) {
            true if short => LineKind::Pointer,
            true => LineKind::Prose,
            false if bare => LineKind::BareLabel,
            false => LineKind::Prose,
        }
    }
}

/// Visible characters beyond which a line that says 详见 or `see below` explains something.
const POINTER_CHARS: usize = 40;

impl Default for Rules {
    fn default() -> Self {
        Rules::new(&QuestionConfig::default()).expect("default patterns compile")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_question_patterns() {
        let r = Rules::default();
        for q in [
            "7.介绍一下",
            "7、介绍",
            "7．介绍",
            "Q7 什么",
            "（7）什么",
            "(7) x",
            "5.1.1.1 面试问题：x",
            "为什么？",
            "Why?",
        ] {
            assert!(r.question.is_match(q), "{q}");
        }
        for q in ["主要特点与功能", "01.02_LeNet 系列模型", "一、模型架构", "2026年展望"] {
            assert!(!r.question.is_match(q), "{q}");
        }
        assert!(r.strong.is_match("面试问题：x") && r.strong.is_match("4.4.1.1_面试问题：x"));
        assert!(r.strong.is_match("面试问题1：x") && r.strong.is_match("面试问题-x"));
        assert!(!r.strong.is_match("面试问题汇总"));
        assert!(r.structural.is_match("📑 目录导航") && r.structural.is_match("第一章 主流模型正文"));
        assert!(!r.structural.is_match("1.目录结构有什么用？"));
    }

    #[test]
    fn placeholders_metadata_labels() {
        let r = Rules::default();
        let kind = |l: &str| r.line_kind(l);
        assert_eq!(kind("**待补充**"), LineKind::Placeholder);
        assert_eq!(kind("TODO."), LineKind::Placeholder);
        assert_eq!(kind("Rocky会持续补充完善答案"), LineKind::Prose);
        assert_eq!(
            kind("**难度评分：⭐⭐⭐ (3/5)  |  考察频率：⭐⭐⭐⭐ (4/5)**"),
            LineKind::Metadata
        );
        assert_eq!(kind("> （注：文档部分内容可能由 AI 生成）"), LineKind::Metadata);
        assert_eq!(kind("**回答：**"), LineKind::Label);
        assert_eq!(kind("**答案**："), LineKind::Label);
        assert_eq!(
            kind("Q1：为什么 AI 视频模型里经常会出现 T5 和 CLIP？"),
            LineKind::Outline
        );
        assert_eq!(kind("- (2) 常见的聚类算法有哪些？"), LineKind::Outline);
        assert_eq!(kind("1. 介绍一下全连接层。"), LineKind::Numbered);
        assert_eq!(kind("视频任务比图像任务更难。"), LineKind::Prose);
    }

    #[test]
    fn pointers_urls_and_bare_labels() {
        let r = Rules::default();
        let kind = |l: &str| r.line_kind(l);
        assert_eq!(kind("详见第三章。"), LineKind::Pointer);
        assert_eq!(kind("See [the docs](https://example.com)."), LineKind::Pointer);
        assert_eq!(kind("<https://example.com/a>"), LineKind::Url);
        assert_eq!(kind("页式管理："), LineKind::BareLabel);
        assert_eq!(kind("Useful resources:"), LineKind::BareLabel);
        // A long line that says 详见 explains; so does a label that points.
        let long = "梯度消失的原因详见下文，这里先说结论：激活函数的导数小于一，层数一多就会连乘到接近零，所以浅层几乎学不到东西。";
        assert_eq!(kind(long), LineKind::Prose);
        assert_eq!(kind("详见："), LineKind::Pointer);
        assert_eq!(kind("see below for the reasons:"), LineKind::Pointer);
        assert_eq!(kind("O(n^2)"), LineKind::Prose);
    }

    #[test]
    fn bad_pattern_names_its_field() {
        let c = QuestionConfig {
            patterns: vec!["(".into()],
            ..Default::default()
        };
        let e = Rules::new(&c).unwrap_err();
        assert!(e.to_string().contains("[questions].patterns"));
        // Fields matched together in one set are still named one by one.
        for (field, c) in [
            (
                "bare_label",
                QuestionConfig {
                    bare_label: "[".into(),
                    ..Default::default()
                },
            ),
            (
                "placeholders",
                QuestionConfig {
                    placeholders: vec!["(".into()],
                    ..Default::default()
                },
            ),
            (
                "stub_phrases",
                QuestionConfig {
                    stub_phrases: vec!["(".into()],
                    ..Default::default()
                },
            ),
        ] {
            let e = Rules::new(&c).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }
}
