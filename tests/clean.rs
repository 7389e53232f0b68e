//! Clean-up output is Markdown that renders as the reply meant it and passes `check`: no
//! stray emphasis markers where a heading became a bold line, no heading that skips a level.

use std::collections::HashSet;

use aigcq::chapter::{Chapter, QuestionConfig, Rules};
use aigcq::check::{Rule, lint};
use aigcq::draft::postprocess::{Target, clean};
use proptest::prelude::*;
use pulldown_cmark::{Event, Parser, Tag};

/// Inline text of a heading or a paragraph: words, some in bold or emphasis, sometimes
/// numbered and asked like a question, so that some headings read as questions.
fn inline() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[甲乙丙丁扩散模型]{2,6}".prop_map(|s| s),
        "[a-z]{3,8}".prop_map(|s| s),
        "[甲乙丙a-z]{2,5}".prop_map(|w| format!("**{w}**")),
        "[甲乙丙a-z]{2,5}".prop_map(|w| format!("*{w}*")),
    ];
    (
        any::<bool>(),
        1usize..9,
        proptest::collection::vec(word, 1..5),
        any::<bool>(),
    )
        .prop_map(|(numbered, n, words, asks)| {
            let mut s = if numbered { format!("{n}. ") } else { String::new() };
            s.push_str(&words.join(" "));
            if asks {
                s.push_str("是什么？");
            }
            s
        })
}

/// A reply to a question of `level`: blocks of headings and paragraphs whose headings never
/// skip a level (the first at most one below the question, as the question's own answer
/// would start), so any jump after clean-up is clean-up's.
fn reply(level: u8) -> impl Strategy<Value = String> {
    let block = (prop::option::weighted(0.5, 0u8..3), inline());
    (1..=level + 1, proptest::collection::vec(block, 1..10)).prop_map(|(first, blocks)| {
        let mut level: Option<u8> = None;
        let mut out = String::from("这是一个足够长的答案开头，写得像真正的回答。\n\n");
        for (step, text) in blocks {
            match step {
                Some(step) => {
                    // Deeper by at most one, or back up to any level at or above the first.
                    let l = match level {
                        None => first,
                        Some(l) if step == 0 => (l + 1).min(6),
                        Some(l) => l.saturating_sub(step).max(first),
                    };
                    level = Some(l);
                    out.push_str(&format!("{} {text}\n\n", "#".repeat(l.into())));
                }
                None => out.push_str(&format!("{text}。\n\n")),
            }
        }
        out
    })
}

/// Strong and emphasis spans of `text`, as pulldown-cmark reads them.
fn spans(text: &str) -> (usize, usize) {
    Parser::new(text).fold((0, 0), |(strong, em), e| match e {
        Event::Start(Tag::Strong) => (strong + 1, em),
        Event::Start(Tag::Emphasis) => (strong, em + 1),
        _ => (strong, em),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cleaned_replies_have_no_stray_markers_and_no_heading_jump(
        (raw, level) in (1u8..4).prop_flat_map(|level| (reply(level), Just(level)))
    ) {
        let rules = Rules::new(&QuestionConfig::default()).unwrap();
        let question = "1. 什么是扩散模型？";
        let anchors = HashSet::new();
        let target = Target { question, index: 1, level, crlf: false, anchors: &anchors, contained: false };
        let Ok(cleaned) = clean(&raw, target, &rules) else { return Ok(()) };
        let text = &cleaned.text;

        // Every asterisk is a delimiter of a span that renders: two per strong side, one
        // per emphasis side (the generated words hold none of their own).
        let (strong, em) = spans(text);
        let stars = text.matches('*').count();
        prop_assert_eq!(stars, 4 * strong + 2 * em, "stray emphasis markers in:\n{}", text);

        let h = "#".repeat(level.into());
        let doc = format!("{h} {question}\n\n{text}\n{h} 2. 下一个问题是什么？\n\n答案。\n");
        let chapter = Chapter::parse(&doc, &rules);
        let jumps: Vec<_> = lint(&chapter, "ch.md", &|_| true)
            .into_iter()
            .filter(|f| f.rule == Rule::HeadingJump)
            .collect();
        prop_assert!(jumps.is_empty(), "{jumps:?} in:\n{doc}\nfrom:\n{raw}");
    }
}
