//! The merge engine on generated and real chapters: only the target span changes, the
//! question reads back as answered with the draft's text, and the file's own bytes (BOM,
//! CRLF, blank lines, final newline) stay as they were.

use aigcq::chapter::{Chapter, GapKind, QuestionConfig, Rules};
use aigcq::review::merge::{self, Stale, State};
use proptest::prelude::*;

mod common;
use common::meta_for;

fn rules() -> Rules {
    Rules::new(&QuestionConfig::default()).unwrap()
}

/// Merges `body` for question `index` and returns the new text.
fn merged(text: &str, index: usize, body: &str) -> String {
    let rules = rules();
    let chapter = Chapter::parse(text, &rules);
    let e = merge::Merger::new(&chapter)
        .edit(&meta_for("ch.md", text, index), body, &rules, false)
        .unwrap();
    merge::apply(text, vec![e])
}

#[test]
fn list_item_answers_are_indented_and_a_missing_details_block_is_written_in_the_files_form() {
    let items = "1.  ### What is a hook?\n\n    A function that lets a component use state.\n\n2.  ### What is a ref?\n\n3.  ### What is JSX?\n\n    A syntax extension for JavaScript.\n";
    assert_eq!(
        merged(items, 2, "A handle on an element.\n\n- one\n"),
        items.replacen(
            "### What is a ref?\n\n",
            "### What is a ref?\n\n    A handle on an element.\n\n    - one\n\n",
            1
        )
    );
    let answered = |n: usize| {
        format!(
            "###### {n}. Output?\n\n- A: x\n\n<details><summary><b>Answer</b></summary>\n<p>\n\n#### Answer: A\n\nBecause it logs {n}.\n\n</p>\n</details>\n\n---\n\n"
        )
    };
    let mut quiz: String = (1..=4).map(answered).collect();
    quiz.push_str("###### 5. Output?\n\n- A: x\n\n---\n");
    let out = merged(&quiz, 5, "#### Answer: A\n\nBecause it logs 5.\n");
    let whole: String = (1..=5).map(answered).collect();
    assert_eq!(
        out,
        whole.trim_end().to_owned() + "\n",
        "the block in the file's own form, its heading kept"
    );
}

#[test]
fn an_answer_goes_under_its_plain_list_item_and_reads_back() {
    let items = "## HTML\n\n- 什么是 Doctype？\n\n  声明文档的类型，位于第一行。\n\n- 行内元素有哪些？\n\n- 块级元素有哪些？\n\n  div、p、ul 等，独占一行。\n";
    let body = "a、span、img 等。\n\n```html\n<a></a>\n```\n";
    let out = merged(items, 2, body);
    assert_eq!(
        out,
        items.replacen(
            "- 行内元素有哪些？\n\n",
            "- 行内元素有哪些？\n\n  a、span、img 等。\n\n  ```html\n  <a></a>\n  ```\n\n",
            1
        )
    );
    let rules = rules();
    let after = Chapter::parse(&out, &rules);
    assert_eq!(after.questions.len(), 3);
    assert!(after.questions.iter().all(|q| q.gap.is_none()));
    let meta = meta_for("ch.md", items, 2);
    assert_eq!(merge::Merger::new(&after).state(&meta, body), State::Merged);
}

#[test]
fn a_list_item_answer_keeps_the_spaces_of_its_whitespace_only_lines() {
    // React's Q321: a code block inside the item has lines of spaces only; written back
    // without the item's indentation they lost their own and the merge was refused.
    let items = "1.  ### What is a hook?\n\n2.  ### What is a ref?\n\n    A handle.\n";
    let body = "Like this:\n\n```js\nfunction f() {\n  a();\n  \n  b();\n}\n```\n";
    let rules = rules();
    let out = merged(items, 1, body);
    assert!(out.contains("\n      a();\n      \n      b();\n"), "{out}");
    let after = Chapter::parse(&out, &rules);
    let meta = meta_for("ch.md", items, 1);
    assert_eq!(merge::Merger::new(&after).state(&meta, body), State::Merged);
}

#[test]
fn empty_placeholder_and_metadata_layouts() {
    let text = "# 章\n\n## 1、甲？\n\n\n## 2、乙？\n\n待补充\n\n## 3、丙？\n\n**难度评分：⭐⭐⭐**\n\n---\n\n## 4、丁？\n\n真正的答案在这里，已经写得足够长了。\n";
    let a = merged(text, 1, "答一。\n");
    assert_eq!(
        a,
        text.replacen("## 1、甲？\n\n\n", "## 1、甲？\n\n答一。\n\n\n", 1),
        "blank lines before the next heading kept"
    );
    let b = merged(text, 2, "答二。");
    assert_eq!(b, text.replacen("\n待补充\n", "\n答二。\n", 1), "the placeholder goes");
    let c = merged(text, 3, "答三。\n");
    assert_eq!(
        c,
        text.replacen(
            "**难度评分：⭐⭐⭐**\n\n---",
            "**难度评分：⭐⭐⭐**\n\n答三。\n\n---",
            1
        ),
        "metadata stays, the break stays after"
    );
}

#[test]
fn stubs_and_outlines_are_replaced() {
    let text = "## 1、甲？\n\n见[链接](http://x)\n\n## 2、乙？\n\n- Q1：什么是A？\n- Q2：什么是B？\n\n## 3、丙？\n";
    assert_eq!(
        merged(text, 1, "新答案。\n"),
        text.replacen("见[链接](http://x)", "新答案。", 1)
    );
    assert_eq!(
        merged(text, 2, "### Q1\n\nA。\n"),
        text.replacen("- Q1：什么是A？\n- Q2：什么是B？", "### Q1\n\nA。", 1)
    );
}

#[test]
fn crlf_bom_and_no_final_newline_are_kept() {
    let text = "\u{feff}## 1、甲？\r\n\r\n## 2、乙？";
    let out = merged(text, 1, "第一行\n第二行\n");
    assert_eq!(out, "\u{feff}## 1、甲？\r\n\r\n第一行\r\n第二行\r\n\r\n## 2、乙？");
    let out = merged(text, 2, "末尾\n");
    assert_eq!(
        out, "\u{feff}## 1、甲？\r\n\r\n## 2、乙？\r\n\r\n末尾",
        "no final line ending added"
    );
}

#[test]
fn a_missing_section_is_added_in_toc_order_in_the_files_style() {
    let text = "# 目录\n\n- [1. 甲](#q1)\n- [2. 乙](#q2)\n- [3. 丙](#q3)\n\n<h2 id=\"q1\">1. 甲</h2>\n\n答一，这是写得足够长的一段正文内容。\n\n<h2 id=\"q3\">3. 丙</h2>\n\n答三，这是写得足够长的一段正文内容。\n";
    let chapter = Chapter::parse(text, &rules());
    let gap = chapter.gaps().find(|g| g.kind == GapKind::Missing).unwrap();
    let out = merged(text, gap.index, "答二，这也是写得足够长的一段正文内容。\n");
    assert_eq!(
        out,
        text.replacen(
            "<h2 id=\"q3\">",
            "<h2 id=\"q2\">2. 乙</h2>\n\n答二，这也是写得足够长的一段正文内容。\n\n<h2 id=\"q3\">",
            1
        )
    );
    let after = Chapter::parse(&out, &rules());
    assert_eq!(after.gaps().count(), 0, "{out}");
}

#[test]
fn stale_and_already_merged_drafts_are_recognised() {
    let text = "## 1、甲？\n\n## 2、乙？\n\n待补充\n";
    let rules = rules();
    let meta = meta_for("ch.md", text, 2);
    let body = "乙的答案。\n";
    // Edits elsewhere do not make it stale.
    let elsewhere = text.replace("## 1、甲？\n", "## 1、甲？\n\n甲已经有了一个足够长的答案。\n");
    assert_eq!(
        merge::Merger::new(&Chapter::parse(&elsewhere, &rules)).state(&meta, body),
        State::Ready
    );
    // Answered since: stale.
    let answered = text.replace("待补充", "有人在这期间写了一个足够长的真正答案。");
    assert_eq!(
        merge::Merger::new(&Chapter::parse(&answered, &rules)).state(&meta, body),
        State::Stale(Stale::Answered)
    );
    // The placeholder text changed: stale.
    let changed = text.replace("待补充", "待更新");
    assert_eq!(
        merge::Merger::new(&Chapter::parse(&changed, &rules)).state(&meta, body),
        State::Stale(Stale::Changed)
    );
    // Gone.
    let gone = text.replace("## 2、乙？\n\n待补充\n", "");
    assert_eq!(
        merge::Merger::new(&Chapter::parse(&gone, &rules)).state(&meta, body),
        State::Stale(Stale::Gone)
    );
    // Merged already (a run stopped after writing).
    let done = merged(text, 2, body);
    assert_eq!(
        merge::Merger::new(&Chapter::parse(&done, &rules)).state(&meta, body),
        State::Merged
    );
    assert_eq!(
        merge::Merger::new(&Chapter::parse(&done, &rules)).edit(&meta, body, &rules, true),
        Err(merge::MergeError::AlreadyMerged),
        "never merged twice, even forced"
    );
    // A forced accept of an answered question replaces the answer.
    let chapter = Chapter::parse(&answered, &rules);
    assert!(merge::Merger::new(&chapter).edit(&meta, body, &rules, false).is_err());
    let e = merge::Merger::new(&chapter).edit(&meta, body, &rules, true).unwrap();
    assert!(merge::apply(&answered, vec![e]).contains("乙的答案。"));
}

#[test]
fn the_four_gaps_of_the_bundled_chapter() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("content/第一章_主流AIGC图像生成编辑大模型高频考点.md")).unwrap();
    let rules = rules();
    let mut out = text.clone();
    for index in [7, 8, 11, 12] {
        out = merged(
            &out,
            index,
            &format!("**第 {index} 题的答案**：这是一个足够长的答案正文。\n\n### 要点\n\n1. 第一点\n2. 第二点\n"),
        );
    }
    let after = Chapter::parse(&out, &rules);
    assert_eq!(after.gaps().count(), 0);
    assert_eq!(after.questions.len(), Chapter::parse(&text, &rules).questions.len());
}

/// One generated question: its answer variant and the blank lines after it.
fn answer_variant() -> impl Strategy<Value = (u8, usize)> {
    (0u8..5, 0usize..3)
}

fn chapter_text(variants: &[(u8, usize)], crlf: bool, bom: bool, final_newline: bool) -> String {
    let mut s = String::new();
    if bom {
        s.push('\u{feff}');
    }
    s.push_str("# 第一章 测试\n\n");
    for (i, (v, blanks)) in variants.iter().enumerate() {
        s.push_str(&format!("## {}、问题{}是什么？\n", i + 1, i + 1));
        match v {
            0 => {}
            1 => s.push_str("\n待补充\n"),
            2 => s.push_str("\n**难度评分：⭐⭐ | 考察频率：高**\n"),
            3 => s.push_str("\n见[参考](http://example.com)\n"),
            _ => s.push_str("\n这是一个已经写好的答案，内容足够长，足以算作真正的回答。\n"),
        }
        s.push_str(&"\n".repeat(*blanks));
    }
    if !final_newline {
        while s.ends_with('\n') {
            s.pop();
        }
    }
    if crlf { s.replace('\n', "\r\n") } else { s }
}

fn body() -> impl Strategy<Value = String> {
    let first = "[一二三四五六七八九十甲乙丙丁]{16,30}。";
    let line = prop_oneof![
        "[一二三四五六七八九十甲乙丙丁 ]{4,20}。".prop_map(|s| s),
        "[a-z ]{3,20}\\.".prop_map(|s| s),
        "[甲乙丙]{2,6}".prop_map(|s| format!("- {s}")),
        "[甲乙丙]{2,6}".prop_map(|s| format!("### 要点{s}")),
        "[甲乙丙]{2,6}".prop_map(|s| format!("**{s}**：说明")),
    ];
    (first, proptest::collection::vec(line, 0..5))
        .prop_map(|(first, lines)| format!("{first}\n\n{}", lines.join("\n\n")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_merge_changes_only_the_target_span(
        variants in proptest::collection::vec(answer_variant(), 1..8),
        crlf: bool, bom: bool, final_newline: bool, pick in 0usize..8, body in body(),
    ) {
        let text = chapter_text(&variants, crlf, bom, final_newline);
        let rules = rules();
        let chapter = Chapter::parse(&text, &rules);
        let gaps: Vec<usize> = chapter.gaps().map(|g| g.index).collect();
        prop_assume!(!gaps.is_empty());
        let index = gaps[pick % gaps.len()];
        let meta = meta_for("ch.md", &text, index);
        let e = merge::Merger::new(&chapter).edit(&meta, &body, &rules, false).unwrap();
        let out = merge::apply(&text, vec![e.clone()]);
        // Prefix and suffix bytes are identical.
        prop_assert_eq!(&out.as_bytes()[..e.range.start], &text.as_bytes()[..e.range.start]);
        let tail = text.len() - e.range.end;
        prop_assert_eq!(&out.as_bytes()[out.len() - tail..], &text.as_bytes()[e.range.end..]);
        prop_assert_eq!(out.ends_with('\n'), text.ends_with('\n'));
        prop_assert_eq!(out.starts_with('\u{feff}'), bom);
        if crlf {
            prop_assert!(!out.replace("\r\n", "").contains('\n'), "only CRLF line endings");
        }
        // Re-parsed, the question is answered with exactly that text and nothing else moved.
        let after = Chapter::parse(&out, &rules);
        prop_assert_eq!(merge::Merger::new(&after).state(&meta, &body), State::Merged);
        let q = after.questions.iter().find(|q| q.index == index).unwrap();
        prop_assert_eq!(q.gap, None);
        prop_assert_eq!(after.questions.len(), chapter.questions.len());
        let others_before: Vec<_> = chapter.gaps().filter(|g| g.index != index).map(|g| (g.index, g.kind)).collect();
        let others_after: Vec<_> = after.gaps().map(|g| (g.index, g.kind)).collect();
        prop_assert_eq!(others_before, others_after);
    }
}

#[test]
fn diff_of_question_7_of_the_bundled_chapter() {
    console::set_colors_enabled(false);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = "第一章_主流AIGC图像生成编辑大模型高频考点.md";
    let text = std::fs::read_to_string(root.join("content").join(name)).unwrap();
    let rules = rules();
    let chapter = Chapter::parse(&text, &rules);
    let body = "**Seedream 是字节跳动的文生图模型系列**，公开资料未披露全部训练细节。\n\n### 各版本的创新\n\n1. **Seedream 2.0**：中英双语。\n2. **Seedream 3.0**：原生高分辨率。\n";
    let e = merge::Merger::new(&chapter)
        .edit(&meta_for(name, &text, 7), body, &rules, false)
        .unwrap();
    insta::assert_snapshot!(aigcq::review::diff::render(&text, &e, aigcq::review::diff::CONTEXT));
}

/// A piece of a hostile reply: what a confused or malicious model writes to break a chapter.
fn hostile_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<!-- 没有结束的注释".to_owned()),
        Just("<pre>\n未闭合".to_owned()),
        Just("<details>\n<summary>折叠</summary>".to_owned()),
        Just("<div align=\"center\">".to_owned()),
        Just("<script>\nvar x = 1;".to_owned()),
        Just("```\n未闭合的代码块".to_owned()),
        Just("一行文字\n---".to_owned()),
        Just("一行文字\n===".to_owned()),
        Just("+++".to_owned()),
        Just("---".to_owned()),
        Just("<a id=\"2问题2是什么\"></a>".to_owned()),
        Just("<span id=\"3问题3是什么\">锚点</span>".to_owned()),
        (1usize..7, 1usize..9).prop_map(|(level, n)| format!("{} {n}、问题{n}是什么？", "#".repeat(level))),
        (1usize..7).prop_map(|level| format!("{} 小节标题", "#".repeat(level))),
        Just("<h2 id=\"x\">4、问题4是什么？</h2>".to_owned()),
        Just("答\u{0}案\u{1b}[2J\u{9b}31m".to_owned()),
        Just("前\r后".to_owned()),
        Just("中间\u{feff}的 BOM".to_owned()),
        "[甲乙丙丁]{16,30}。".prop_map(|s| s),
    ]
}

/// What a question looks like to a reader: its anchor, kind and answer text.
fn questions(c: &Chapter) -> Vec<(String, Option<GapKind>, String)> {
    c.questions
        .iter()
        .map(|q| (c.heading(q).anchor().to_owned(), q.gap, c.answer(q).trim().to_owned()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Hostile replies, cleaned as `draft` cleans them or saved as they are (a hand-edited
    /// draft), accepted through the review stage: the chapter is left as it was, or only the
    /// target question changed and is answered; every other question keeps its kind and text.
    #[test]
    fn hostile_replies_never_change_another_question(
        variants in proptest::collection::vec(answer_variant(), 2..8),
        crlf: bool, pick in 0usize..8, clean: bool,
        fragments in proptest::collection::vec(hostile_fragment(), 1..5),
    ) {
        let text = chapter_text(&variants, crlf, false, true);
        let rules = rules();
        let chapter = Chapter::parse(&text, &rules);
        let gaps: Vec<usize> = chapter.gaps().map(|g| g.index).collect();
        prop_assume!(!gaps.is_empty());
        let index = gaps[pick % gaps.len()];
        let meta = meta_for("ch.md", &text, index);
        let raw = format!("这是一个足够长的答案开头，写得像真正的回答。\n\n{}\n", fragments.join("\n\n"));
        let body = if clean {
            let anchors = chapter.headings.iter().map(|h| h.anchor()).collect();
            let target = aigcq::draft::postprocess::Target {
                question: &meta.question, index: meta.index, level: meta.level, crlf, anchors: &anchors, contained: false,
            };
            match aigcq::draft::postprocess::clean(&raw, target, &rules) {
                Ok(c) => c.text,
                Err(_) => return Ok(()),
            }
        } else {
            raw
        };

        let dir = tempfile::tempdir().unwrap();
        let (content, drafts) = (dir.path().join("content"), dir.path().join("drafts"));
        std::fs::create_dir_all(&content).unwrap();
        std::fs::write(content.join("ch.md"), &text).unwrap();
        let store = aigcq::store::Store::new(drafts.clone());
        store.save(&meta, &body).unwrap();
        let pending = store.pending().0;
        let review = aigcq::review::Review {
            content: &content, drafts: &drafts, rules: &rules, purge: false, waiting: &|_| {},
            run: "test".into(),
        };
        let decided = review.decide(&[&pending[0]], &[], &pending, false);
        let out = std::fs::read_to_string(content.join("ch.md")).unwrap();
        if decided.accepted.is_empty() {
            prop_assert_eq!(&out, &text, "refused, and nothing written");
            return Ok(());
        }
        let after = Chapter::parse(&out, &rules);
        let (old, new) = (questions(&chapter), questions(&after));
        prop_assert_eq!(old.len(), new.len(), "no question added or lost:\n{}", out);
        for (i, (o, n)) in old.iter().zip(&new).enumerate() {
            prop_assert_eq!(&o.0, &n.0, "same order");
            if i + 1 == index {
                prop_assert_eq!(n.1, None, "the target is answered");
            } else {
                prop_assert_eq!(o, n, "question {} unchanged:\n{}", i + 1, out);
            }
        }
        let control = aigcq::review::merge::control_character(&out);
        prop_assert!(control.is_none(), "a control character merged: {:?}", control);
    }
}
