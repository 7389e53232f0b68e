//! Unit tests of the chapter model, on small chapters written for each heading style found in
//! real question banks.

use super::*;

fn parse(text: &str) -> Chapter<'_> {
    Chapter::parse(text, &Rules::default())
}

/// (index, kind or "-", heading text) for every question.
fn summary(c: &Chapter) -> Vec<(usize, String, String)> {
    c.questions
        .iter()
        .map(|q| {
            let kind = match (q.group, q.gap) {
                (true, _) => "group".to_string(),
                (false, Some(k)) => k.to_string(),
                (false, None) => "-".to_string(),
            };
            (q.index, kind, c.heading(q).text.clone())
        })
        .collect()
}

fn kinds(c: &Chapter) -> Vec<String> {
    summary(c).into_iter().map(|(_, k, _)| k).collect()
}

#[test]
fn html_headings_with_toc_and_same_level_subheadings() {
    let text = "\
# 目录

## 第一章 模型

- [1.A是什么？](#1.A是什么？)
- [2.B是什么？](#2.B是什么？)
- [3.C?](#3.C?)

## 第一章 模型正文

<h2 id=\"1.A是什么？\">1.A是什么？</h2>

A 是一种用于图像生成的扩散模型，它由编码器和解码器组成。

## 主要特点

很多特点。

<h2 id=\"2.B是什么？\">2.B是什么？</h2>


<h2 id=\"3.C?\">3.C?</h2>
";
    let c = parse(text);
    assert_eq!(c.toc.len(), 3);
    assert!(c.toc.iter().all(|t| t.resolution == Resolution::Anchor));
    assert_eq!(kinds(&c), ["-", "empty", "empty"]);
    let q1 = &c.questions[0];
    assert!(
        c.answer(q1).contains("## 主要特点"),
        "a same-level sub-heading stays in the answer"
    );
    assert_eq!(c.heading(q1).style, HeadingStyle::Html);
    assert_eq!(c.heading(q1).anchor(), "1.A是什么？");
}

#[test]
fn atx_heading_with_inline_anchor_and_link_heading_toc() {
    let text = "\
## 5.1 总览

### [5.1.1 区别](#q511)

- [5.1.1.1 面试问题：架构差异？](#q5111)

---

### <a id=\"q511\"></a>5.1.1 区别

#### <a id=\"q5111\"></a>5.1.1.1 面试问题：架构差异？

**难度评分：⭐⭐ (2/5)**
";
    let c = parse(text);
    assert_eq!(
        summary(&c),
        [
            (1, "group".into(), "5.1.1 区别".into()),
            (2, "metadata-only".into(), "5.1.1.1 面试问题：架构差异？".into())
        ]
    );
    assert_eq!(c.heading(&c.questions[1]).ids, ["q5111"]);
    assert!(c.headings[1].link_target.is_some(), "the link heading is a TOC entry");
}

#[test]
fn anchor_line_before_heading_and_crlf() {
    let text = "\
## 目录导航\r
\r
- [问题一](#sec-1-q-1)\r
\r
<a id=\"sec-1-q-1\"></a>\r
### 面试问题：什么是 Token？\r
\r
**回答：**\r
\r
<a id=\"sec-1-q-2\"></a>\r
### 面试问题：什么是上下文？\r
\r
上下文是模型一次能看到的全部词元，决定了它能利用多少信息。\r
";
    let c = parse(text);
    assert_eq!(kinds(&c), ["empty", "-"], "a bare answer label is still unanswered");
    let q1 = &c.questions[0];
    assert_eq!(c.heading(q1).ids, ["sec-1-q-1"]);
    assert_eq!(c.toc[0].heading, Some(q1.heading));
    // The next question's anchor line is not part of this answer.
    assert!(!c.answer(q1).contains("sec-1-q-2"));
    assert!(c.answer(q1).ends_with("\r\n\r\n"));
}

#[test]
fn numbered_subheading_inside_answer_is_not_a_question() {
    let text = "\
# 第一章 基础

<h1 id=\"1\">1.介绍一下 DDPM</h1>

## 面试问题：马尔可夫链如何定义?

**难度评分：⭐⭐⭐ (3/5)  |  考察频率：⭐⭐⭐ (3/5)**

## 面试问题：重参数技巧是什么？

**难度评分：⭐⭐ (2/5)**

重参数技巧把随机采样改写成确定性变换加独立噪声，使梯度可以回传。

### 1. 核心原理与数学基础

公式如下。

### 2. 为什么需要它？

因为采样不可导。
";
    let c = parse(text);
    assert_eq!(
        summary(&c),
        [
            (1, "group".into(), "1.介绍一下 DDPM".into()),
            (2, "metadata-only".into(), "面试问题：马尔可夫链如何定义?".into()),
            (3, "-".into(), "面试问题：重参数技巧是什么？".into()),
        ]
    );
    assert!(c.answer(&c.questions[2]).contains("### 2. 为什么需要它？"));
}

#[test]
fn strong_question_under_a_group_with_intro_text() {
    let text = "\
<h1 id=\"1\">1.视频和图像有什么不同?</h1>

> 🎯 **考察重点**：时间维度

### ❓ 核心问题

## 面试问题1：为什么视频更难？

视频多了时间维度，需要同时建模空间与运动，计算量也更大。
";
    let c = parse(text);
    assert_eq!(kinds(&c), ["group", "-"]);
}

#[test]
fn numbering_that_continues_is_a_question_one_level_too_deep() {
    let text = "\
## 1、第一个问题？

这是第一个问题的完整回答，内容足够长，可以算作答案。

### 2、第二个问题写深了一级？


## 3、第三个问题？

第三个问题的回答也写得足够长，可以算作答案。
";
    let c = parse(text);
    assert_eq!(kinds(&c), ["-", "empty", "-"]);
}

#[test]
fn setext_and_indented_atx_headings() {
    let text = "\
什么是 A？
-------------

A 是第一个字母，也是本章节第一个问题的答案。

   ## 2. 什么是 B？

什么是 C？
-------------
";
    let c = parse(text);
    assert_eq!(kinds(&c), ["-", "empty", "empty"]);
    assert_eq!(c.heading(&c.questions[0]).style, HeadingStyle::Setext);
    assert_eq!(c.heading(&c.questions[1]).style, HeadingStyle::Atx);
}

#[test]
fn nothing_inside_code_or_comments_is_a_heading() {
    let text = "\
```
## 1. 不是问题？
```

    ## 2. 也不是？

<!--
<h2>3. 注释里？</h2>
## 4. 注释里？
-->

## 5. 真问题？
";
    let c = parse(text);
    assert_eq!(summary(&c), [(1, "empty".into(), "5. 真问题？".into())]);
}

#[test]
fn gap_kinds() {
    let text = "\
## 1. 空？

---

<div align=\"center\"></div>

<!-- 稍后 -->

## 2. 占位？

待补充

## 3. 元数据？

**难度评分：⭐⭐⭐ (3/5)  |  考察频率：⭐⭐⭐⭐ (4/5)**

## 4. 链接？

- [点击查看详细答案](https://example.com/a)

## 5. 太短？

见下。

## 6. 提纲？

Q1：为什么要这样？
Q2：有哪些方法？

## 7. 编号提纲？

1. 介绍一下原理。

2. 有哪些变体？

## 8. 有图？

![结构图](a.png)

## 9. 有代码？

```python
x = 1
```
";
    let c = parse(text);
    assert_eq!(
        kinds(&c),
        [
            "empty",
            "placeholder",
            "metadata-only",
            "stub",
            "stub",
            "outline",
            "outline",
            "-",
            "-"
        ]
    );
}

#[test]
fn missing_and_near_miss_toc_entries() {
    let text = "\
# 目录

- [1.甲](#1.甲)
- [2.乙 丙](#2.乙丙)
- [3.丁](3.丁)
- [4.戊](#4.戊)

<h2 id=\"1.甲\">1.甲</h2>

甲的答案写在这里，足够长了，算是回答。

<h2 id=\"2.乙 丙\">2.乙 丙</h2>

<h2 id=\"3.丁\">3.丁</h2>
";
    let c = parse(text);
    let res: Vec<_> = c.toc.iter().map(|t| t.resolution).collect();
    assert_eq!(
        res,
        [
            Resolution::Anchor,
            Resolution::Text,
            Resolution::NearMiss,
            Resolution::Unresolved
        ]
    );
    let gaps: Vec<_> = c.gaps().map(|g| (g.index, g.kind, g.text.to_string())).collect();
    assert_eq!(
        gaps,
        [
            (2, GapKind::Empty, "2.乙 丙".into()),
            (3, GapKind::Empty, "3.丁".into()),
            (4, GapKind::Missing, "4.戊".into())
        ]
    );
}

#[test]
fn github_rendered_and_percent_encoded_anchors_resolve() {
    let text = "\
- [一](#user-content-1%E7%94%B2)
- [二](#user-content-2乙)

<h1 id=\"1甲\">1. 甲</h1>

<h1 id=\"2乙\">2. 乙</h1>
";
    let c = parse(text);
    assert!(c.toc.iter().all(|t| t.resolution == Resolution::Anchor), "{:?}", c.toc);
}

#[test]
fn duplicate_headings_are_both_questions() {
    let text = "\
- [1. 甲？](#a)

<h2 id=\"a\">1. 甲？</h2>

<h2 id=\"a\">1. 甲？</h2>

甲的答案写在第二次出现的标题下面，足够长。
";
    let c = parse(text);
    assert_eq!(kinds(&c), ["empty", "-"]);
}

#[test]
fn bom_and_missing_trailing_newline() {
    let text = "\u{feff}## 1. 甲？\n\n## 2. 乙？";
    let c = parse(text);
    assert_eq!(kinds(&c), ["empty", "empty"]);
    assert_eq!(c.headings[0].range.start, 3);
    assert_eq!(c.questions[1].answer, text.len()..text.len());
}

#[test]
fn structural_headings_and_toc_zone_headings_are_not_questions() {
    let text = "\
# 目录

## 第一章 CNN

### 01.01_LeNet 系列模型

- [1.甲？](#q1)

<h2 id=\"q1\">1.甲？</h2>

甲的回答足够长，足够长，足够长，足够长。
";
    let c = parse(text);
    assert_eq!(summary(&c), [(1, "-".into(), "1.甲？".into())]);
}

#[test]
fn higher_ranked_heading_ends_an_answer() {
    let text = "### 1. 甲？\n\n\n## 总结\n\n这里是整章的总结，不属于问题一的回答内容。\n";
    let c = parse(text);
    assert_eq!(kinds(&c), ["empty"]);
    assert!(!c.answer(&c.questions[0]).contains("总结"));
}

#[test]
fn lines_and_offsets() {
    let c = parse("a\nb\r\nc");
    assert_eq!((c.line_of(0), c.line_of(2), c.line_of(5), c.line_of(6)), (1, 2, 3, 3));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Markdown-ish text: headings, HTML headings, fences, lists, anchors, CJK and junk.
    fn chapterish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("## 1. 问题？\n".to_string()),
            Just("### 面试问题：甲\n".to_string()),
            Just("<h2 id=\"q-1\">2.乙</h2>\n".to_string()),
            Just("<div align=\"center\">\n<h3>3、丙？</h3>\n</div>\n".to_string()),
            Just("- [目录](#q-1)\n".to_string()),
            Just("<a id=\"x\"></a>\n".to_string()),
            Just("```\n## 代码\n".to_string()),
            Just("```\n".to_string()),
            Just("<!--\n".to_string()),
            Just("-->\n".to_string()),
            Just("---\n".to_string()),
            Just("\r\n".to_string()),
            Just("待补充\n".to_string()),
            Just("Q1：为什么？\n".to_string()),
            Just("| a | b |\n|---|---|\n| 1 |\n".to_string()),
            "[ -~]{0,20}\n",
            "\\PC{0,12}",
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn never_panics_and_spans_are_sound(text in prop_oneof![chapterish(), "\\PC{0,300}"]) {
            let c = parse(&text);
            let mut last_end = 0;
            for q in &c.questions {
                let h = c.heading(q);
                prop_assert!(q.answer.start <= q.answer.end && q.answer.end <= text.len());
                prop_assert!(text.is_char_boundary(q.answer.start) && text.is_char_boundary(q.answer.end));
                prop_assert!(h.unit.end <= q.answer.start || h.unit.end == q.answer.start);
                prop_assert!(q.answer.start >= last_end, "answers overlap");
                last_end = q.answer.end;
            }
            for g in c.gaps() {
                prop_assert!(g.line >= 1);
            }
            for t in &c.toc {
                if let Some(h) = t.heading {
                    prop_assert!(c.questions.iter().any(|q| q.heading == h) || c.headings[h].text.is_empty()
                        || Rules::default().structural.is_match(&c.headings[h].text));
                }
            }
        }
    }
}

#[test]
fn front_matter_is_metadata_not_a_heading() {
    for text in [
        "---\nlast_review_date: \"2026-07-18\"\n---\n\n# FAQ\n\n## Is there a glossary?\n\nYes, the cookbook has one with many terms.\n",
        "+++\ntitle = \"FAQ\"\n+++\n\n# FAQ\n\n## Is there a glossary?\n\nYes, the cookbook has one with many terms.\n",
    ] {
        let c = parse(text);
        let headings: Vec<&str> = c.headings.iter().map(|h| h.text.as_str()).collect();
        assert_eq!(headings, ["FAQ", "Is there a glossary?"], "{text}");
        assert_eq!(c.title(), Some("FAQ"));
    }
    // A rule that opens no front matter block still ends the text above it.
    let c = parse("## 1、甲？\n\n答案写得足够长，算作真正的回答。\n\n---\n\n## 2、乙？\n");
    assert_eq!(kinds(&c), ["-", "empty"]);
}

#[test]
fn a_struck_through_toc_entry_is_not_a_missing_question() {
    let text = "\
- [1、甲是什么？](#1甲是什么)
- [~~2、乙是什么？~~](#2乙是什么)
- ~~[3、丙是什么？](#3丙是什么)~~
- [4、丁是什么？](#4丁是什么)

## 1、甲是什么？

甲的答案写得足够长，可以算作真正的回答。
";
    let c = parse(text);
    assert_eq!(c.toc.len(), 4);
    let struck: Vec<bool> = c.toc.iter().map(|t| t.struck).collect();
    assert_eq!(struck, [false, true, true, false]);
    let missing: Vec<&str> = c.gaps().map(|g| g.text).collect();
    assert_eq!(
        missing,
        ["4、丁是什么？"],
        "only the entry not struck through is missing"
    );
}

#[test]
fn questions_in_list_items_with_a_toc_table_and_back_to_top_links() {
    let text = "\
# Bank

| No. | Questions |
| --- | --------- |
| 1 | [What is a hook?](#what-is-a-hook) |
| 2 | [Why keys matter?](#why-keys-matter-old-name) |
| 3 | [What is state?](#what-is-state) |
| 4 | [What is a ref?](#what-is-a-ref) |

1.  ### What is a hook?

    A function that lets a component use state.

**[⬆ Back to Top](#bank)**

2.  ### Why do keys matter?

    They let the renderer match list items between renders.

**[⬆ Back to Top](#bank)**

3.  ### What is state?

**[⬆ Back to Top](#bank)**

4.  ### What is a ref?

A handle on a rendered element, written below the item.

**[⬆ Back to Top](#bank)**
";
    let c = parse(text);
    assert_eq!(
        summary(&c)
            .iter()
            .map(|(_, k, t)| (k.as_str(), t.as_str()))
            .collect::<Vec<_>>(),
        [
            ("-", "What is a hook?"),
            ("-", "Why do keys matter?"),
            ("empty", "What is state?"),
            ("-", "What is a ref?"),
        ]
    );
    assert_eq!(c.toc.len(), 4, "back-to-top links are navigation, not entries");
    assert_eq!(
        c.toc[1].resolution,
        Resolution::Order,
        "a renamed question, found by its place"
    );
    assert_eq!(c.questions[0].holder, Holder::Item { indent: 4 });
    assert_eq!(
        c.answer_body(&c.questions[0]).trim(),
        "A function that lets a component use state."
    );
    assert!(!c.answer(&c.questions[2]).contains("Back to Top"));
}

#[test]
fn a_cross_reference_repeated_after_its_heading_stays_a_toc_entry() {
    // Found on the book: a glossary's three links back to a question are no navigation.
    let text = "\
- [1、甲是什么？](#q1)
- [2、乙是什么？](#q2)

## <a id=\"q1\"></a>1、甲是什么？

甲的答案写得足够长，可以算作真正的回答。

## <a id=\"q2\"></a>2、乙是什么？

乙的答案写得足够长，可以算作真正的回答。

## 术语表

1. **甲**：见（[1](#q1)）
2. **甲的别名**：见（[1](#q1)）
3. **甲的另一个别名**：见（[1](#q1)）
";
    let c = parse(text);
    assert_eq!(c.toc.iter().filter(|t| t.anchor == "q1").count(), 1);
    assert!(c.questions.iter().all(|q| q.toc.is_some()));
}

#[test]
fn summary_questions_placeholders_and_group_labels() {
    let text = "\
# Skills

###### System Questions (3)

<details>
<summary><b>Explain what a process is.</b></summary><br>

A running program with its own memory and resources.

</details>

<details>
<summary><b>How do you find open files? ***</b></summary><br>

To be completed.

Useful resources:

- [lsof](https://example.com/lsof)

</details>

<details>
<summary><b>What is a zombie process?</b></summary>

Coming soon

</details>
";
    let c = parse(text);
    assert_eq!(kinds(&c), ["-", "stub", "placeholder"]);
    assert!(c.questions.iter().all(|q| q.holder == Holder::Summary));
    assert_eq!(c.heading(&c.questions[1]).text, "How do you find open files? ***");
}

#[test]
fn answers_in_details_after_a_stem() {
    let answered = |n: usize| {
        format!(
            "###### {n}. What's the output?\n\n```js\nconsole.log({n})\n```\n\n- A: `{n}`\n- B: error\n\n<details><summary><b>Answer</b></summary>\n<p>\n\n#### Answer: A\n\nIt logs the number {n} to the console.\n\n</p>\n</details>\n\n---\n\n"
        )
    };
    let mut text = String::from("# Quiz\n\n");
    for n in 1..=4 {
        text.push_str(&answered(n));
    }
    text.push_str("###### 5. What's the output?\n\n```js\nconsole.log(5)\n```\n\n- A: `5`\n\n---\n");
    let c = parse(&text);
    assert_eq!(kinds(&c), ["-", "-", "-", "-", "empty"], "a missing block is a gap");
    let q = &c.questions[0];
    assert_eq!(q.holder, Holder::Details);
    assert!(c.answer(q).contains("#### Answer: A") && c.answer(q).contains("to the console"));
    assert!(c.text()[q.stem.clone().unwrap()].contains("- B: error"));
    let last = &c.questions[4];
    assert!(last.unboxed);
    let (open, close) = c.details_form(last).expect("the chapter's form");
    assert_eq!(
        (open, close),
        ("<details><summary><b>Answer</b></summary>\n<p>\n", "</p>\n</details>\n")
    );
}

#[test]
fn follow_up_questions_and_reference_sections() {
    let text = "\
### 为什么要三次握手？

三次握手让双方都确认对方能收发，这是主问题自己的回答。

<details>
<summary>第三次握手失败会怎样？</summary>

服务器超时重传 SYN+ACK，多次失败后关闭连接。
</details>

##### 可以两次握手吗？

<details>
<summary>展开</summary>

不可以，服务器无法确认客户端收到了它的序列号。
</details>

##### 可以四次握手吗？

<details>
<summary>展开</summary>

可以但没有必要，第二次和第三次可以合并。
</details>

##### 初始序列号为什么随机？

<details>
<summary>展开</summary>

防止旧连接的报文被新连接误收，也增加伪造的难度。
</details>

### 参考

- [RFC 793](https://example.com/rfc793)
";
    let c = parse(text);
    let texts: Vec<&str> = c.questions.iter().map(|q| c.heading(q).text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "为什么要三次握手？",
            "第三次握手失败会怎样？",
            "可以两次握手吗？",
            "可以四次握手吗？",
            "初始序列号为什么随机？"
        ]
    );
    assert_eq!(kinds(&c), ["-"; 5], "the parent keeps its own answer");
    assert_eq!(c.questions[1].holder, Holder::Summary);
    assert_eq!(c.questions[2].holder, Holder::Details);
}

#[test]
fn terse_answers_answer_and_pointers_urls_and_bare_labels_are_stubs() {
    let text = "\
## 1.冒泡排序的复杂度？

O(n^2)

## 2.面向对象三大特征？

封装，继承和多态。

## 3.结构体内存对齐？

https://example.com/align

## 4.select 和 epoll 的区别？

https://example.com/epoll（参考阅读）

## 5.三种内存管理机制？

页式管理：
段式管理：

## 6.#error 的目的？

正确答案：
如果你不知道答案，请看参考文献1。

## 7.How do I contribute?

Read our [guidelines](https://example.com/contributing).

## **8.**inline的用法

以后补一个
";
    let c = parse(text);
    assert_eq!(kinds(&c), ["-", "-", "stub", "stub", "stub", "stub", "-", "stub"]);
    let rules = Rules::new(&QuestionConfig {
        short_answers: false,
        ..Default::default()
    })
    .unwrap();
    let strict = Chapter::parse(text, &rules);
    assert_eq!(
        strict.questions[0].gap,
        Some(GapKind::Stub),
        "length alone decides when off"
    );
}

#[test]
fn a_statement_between_faq_questions_is_a_question_and_a_closing_summary_is_not() {
    // Titled so that it does not call itself an FAQ: the rule between questions decides.
    let mut text = String::from("# Help\n\n");
    for (i, h) in [
        "How do I update?",
        "How do I uninstall?",
        "Why compile everything?",
        "My apps don't find the tools",
        "Where do downloads go?",
        "Can I edit formulae?",
        "Why was a formula deleted?",
        "What does keg-only mean?",
        "How do apps update themselves?",
        "Why is sudo bad?",
        "Can I make new formulae?",
        "Why not rewrite it?",
        "How do I get a pull request's formula?",
        "What are the default permissions?",
        "Why isn't a command documented?",
        "Why was my pull request not merged?",
        "Why is the prefix /opt/homebrew?",
        "Is there a glossary?",
        "How do I keep old versions?",
        "Summary",
    ]
    .iter()
    .enumerate()
    {
        text.push_str(&format!("## {h}\n\nAn answer of its own, number {i}, long enough.\n\n"));
    }
    let c = parse(&text);
    let texts: Vec<&str> = c.questions.iter().map(|q| c.heading(q).text.as_str()).collect();
    assert!(texts.contains(&"My apps don't find the tools"));
    assert!(!texts.contains(&"Summary"));
    assert_eq!(texts.len(), 19);
}

#[test]
fn a_details_block_left_open_in_a_list_item_ends_with_the_item() {
    let text = "\
1.  ### What is a hook?

    A function that lets a component use state.

    <details><summary><b>See class</b></summary>

    ```js
    class A {}
    </details>
    ```

2.  ### What is a ref?

    A handle on a rendered element.
";
    let c = parse(text);
    assert_eq!(
        c.questions.len(),
        2,
        "the second question is not swallowed by the block"
    );
    assert_eq!(kinds(&c), ["-", "-"]);
}

#[test]
fn summaries_under_linked_topic_headings_are_the_questions() {
    // devops-exercises' form: a table of contents links topic headings, and under each the
    // questions are `<summary>`s, many of them tasks rather than questions.
    let mut text = String::from("# Containers\n\n- [Basics](#basics)\n- [Images](#images)\n");
    let topics = [
        (
            "Basics",
            [
                "Explain what a container is",
                "How are containers started?",
                "What is a namespace?",
            ],
        ),
        (
            "Images",
            [
                "Explain container image layers",
                "How are images stored?",
                "What is a registry?",
            ],
        ),
    ];
    for (topic, questions) in topics {
        text.push_str(&format!("\n### {topic}\n"));
        for q in questions {
            text.push_str(&format!("\n<details>\n<summary>{q}</summary><br><b>\n\nAn answer of some length that explains it.\n</b></details>\n"));
        }
    }
    text.push_str("\n<details>\n<summary>Describe a dangling image</summary><br><b>\n</b></details>\n");
    let c = parse(&text);
    let questions: Vec<&str> = c.questions.iter().map(|q| c.heading(q).text.as_str()).collect();
    assert_eq!(questions.len(), 7, "{questions:?}");
    assert!(
        questions
            .iter()
            .all(|q| !q.starts_with("Basics") && !q.starts_with("Images"))
    );
    assert_eq!(kinds(&c), ["-", "-", "-", "-", "-", "-", "empty"]);

    // Follow-ups under one statement heading of a bank of asking headings stay follow-ups.
    let text = "# 网络\n\n- [什么是三次握手？](#什么是三次握手)\n- [什么是四次挥手？](#什么是四次挥手)\n- [TCP与UDP的区别](#tcp与udp的区别)\n\n### 什么是三次握手？\n\n答案写在这里，足够长。\n\n### 什么是四次挥手？\n\n答案写在这里，足够长。\n\n### TCP与UDP的区别\n\n区别如下，足够长的说明。\n\n<details>\n<summary>什么叫无连接？</summary>\n\n解释。\n</details>\n\n<details>\n<summary>什么叫不可靠？</summary>\n\n解释。\n</details>\n\n<details>\n<summary>什么意思？</summary>\n\n解释。\n</details>\n";
    let c = parse(text);
    let questions: Vec<&str> = c.questions.iter().map(|q| c.heading(q).text.as_str()).collect();
    assert!(questions.contains(&"TCP与UDP的区别"), "{questions:?}");
}

/// A page of problem statements (`The window flickers when resized.`) with one asking heading.
fn troubleshooting(title: &str) -> String {
    format!(
        "{title}\n\n## The window flickers when resized.\n\nTurn off compositing in the settings, then restart.\n\n\
         ## Fonts look blurry on a HiDPI screen.\n\nSet `scale = 2` in the configuration file.\n\n\
         ## The app crashes at start on Wayland.\n\n## Sound stops after suspend.\n\n\
         Restart the audio daemon with `systemctl --user restart pipewire`.\n\n\
         ## Summary\n\nEach fix above needs a restart.\n\n## How do I report a bug?\n\nOpen an issue with the log attached.\n"
    )
}

#[test]
fn a_page_that_calls_itself_an_faq_asks_at_every_heading_of_its_question_level() {
    for title in [
        "# Troubleshooting FAQ",
        "---\ntitle: Frequently asked questions\nlayout: page\n---",
        "+++\ntitle = \"常见问题\"\n+++",
    ] {
        let text = troubleshooting(title);
        let c = parse(&text);
        let questions: Vec<&str> = c.questions.iter().map(|q| c.heading(q).text.as_str()).collect();
        assert_eq!(questions.len(), 5, "{title}: {questions:?}");
        assert!(!questions.contains(&"Summary"), "a bare label is no question");
        assert_eq!(kinds(&c), ["-", "-", "empty", "-", "-"], "{title}");
    }
    // The same headings on a page that does not call itself an FAQ are notes, bar the question.
    let text = troubleshooting("# Troubleshooting notes");
    let c = parse(&text);
    assert_eq!(
        summary(&c),
        [(1, "-".to_string(), "How do I report a bug?".to_string())]
    );

    // Grouped: the topics label groups, the level with the most headings holds the questions.
    let text = "# FAQ\n\n## Display\n\n### The window flickers.\n\nTurn off compositing.\n\n\
                ### Fonts are blurry.\n\n## Sound\n\n### Sound stops after suspend.\n\nRestart the daemon.\n";
    let c = parse(text);
    let questions: Vec<&str> = c.questions.iter().map(|q| c.heading(q).text.as_str()).collect();
    assert_eq!(
        questions,
        [
            "The window flickers.",
            "Fonts are blurry.",
            "Sound stops after suspend."
        ]
    );
    assert_eq!(kinds(&c), ["-", "empty", "-"]);
}

#[test]
fn summaries_that_set_tasks_are_a_bank_of_questions_and_code_or_a_table_answers() {
    let text = "# Containers\n\n\
<details>\n<summary>Explain the output of docker ps</summary><br><b>\n\n```\nCONTAINER ID   IMAGE\nabc123         nginx\n```\n</b></details>\n\n\
<details>\n<summary>List the container states</summary><br><b>\n\n| state | meaning |\n|---|---|\n| created | made, not started |\n</b></details>\n\n\
<details>\n<summary>Describe how to run a program as a service</summary><br><b>\n</b></details>\n\n\
<details>\n<summary>What does each of the following do?\n\n* /etc/fstab\n* /etc/hosts\n</summary><br><b>\n\nfstab lists file systems to mount; hosts maps names to addresses.\n</b></details>\n\n\
<details>\n<summary>说明容器与虚拟机的区别</summary><br><b>\n\n![对比](vm.png)\n</b></details>\n";
    let c = parse(text);
    assert_eq!(c.questions.len(), 5, "{:?}", summary(&c));
    assert_eq!(kinds(&c), ["-", "-", "empty", "-", "-"]);

    // Summaries that only name things (install steps per system) are no bank of questions.
    let text = "# Install\n\n<details>\n<summary>macOS</summary>\n\nbrew install x\n</details>\n\n\
                <details>\n<summary>Debian</summary>\n\napt install x\n</details>\n\n\
                <details>\n<summary>Windows</summary>\n\nwinget install x\n</details>\n";
    assert!(parse(text).questions.is_empty());
}

#[test]
fn labels_the_toc_lists_under_an_answered_question_are_part_of_its_answer() {
    let text = "# JavaScript questions\n\n## Table of Contents\n\n\
- [What is a closure?](#what-is-a-closure)\n\
- [What are the array methods?](#what-are-the-array-methods)\n  - [map](#map)\n  - [filter](#filter)\n\
- [What is hoisting?](#what-is-hoisting)\n\
- [What is the event loop?](#what-is-the-event-loop)\n\n\
## What is a closure?\n\nA function that keeps the variables of the scope it was made in.\n\n\
## What are the array methods?\n\nMethods every array has.\n\n### map\n\nMakes a new array from each element.\n\n### filter\n\n\
## What is hoisting?\n\nDeclarations move to the top of their scope.\n\n## What is the event loop?\n";
    let c = parse(text);
    let questions: Vec<&str> = c.questions.iter().map(|q| c.heading(q).text.as_str()).collect();
    assert_eq!(
        questions,
        [
            "What is a closure?",
            "What are the array methods?",
            "What is hoisting?",
            "What is the event loop?"
        ]
    );
    assert!(c.answer(&c.questions[1]).contains("### filter"));
    assert_eq!(kinds(&c), ["-", "-", "-", "empty"]);

    // Under a question with no text of its own, the listed headings are its sub-questions.
    let text = "# Q\n\n- [What are hooks?](#what-are-hooks)\n  - [useState](#usestate)\n  - [useEffect](#useeffect)\n\n\
## What are hooks?\n\n### useState\n\nState in a function component, kept between renders.\n\n### useEffect\n";
    let c = parse(text);
    assert_eq!(kinds(&c), ["group", "-", "empty"], "{:?}", summary(&c));
}

#[test]
fn a_bank_that_asks_in_plain_list_items() {
    // The form of a popular Chinese front-end bank: each question a bullet, its answer an
    // indented block under it; the lists under topic headings.
    let text = "## <a name='html'>HTML</a>\n\n\
- Doctype作用？标准模式与兼容模式各有什么区别?\n\n\t\t（1）声明位于HTML文档中的第一行。\n\n\
- HTML5 为什么只需要写 `<!DOCTYPE HTML>`？\n\n\t\tHTML5 不基于 SGML，因此不需要对DTD进行引用。\n\n\
- 行内元素有哪些？块级元素有哪些？\n\n\
- 为什么要初始化CSS样式。\n\n\t\t因为浏览器的兼容问题，不同浏览器对有些标签的默认值是不同的。\n\n\
- **css定义的权重**\n\n\t\t标签的权重为1，class的权重为10，id的权重为100。\n\n\
## <a name='css'>CSS</a>\n\n- 介绍一下标准的CSS的盒子模型？\n\n  有两种：IE 盒子模型、W3C 盒子模型。\n\n\
## 参考\n\n- [MDN](https://developer.mozilla.org)\n- [W3C](https://www.w3.org)\n";
    let c = parse(text);
    let s = summary(&c);
    let questions: Vec<&str> = s.iter().map(|(_, _, q)| q.as_str()).collect();
    assert_eq!(
        questions,
        [
            "Doctype作用？标准模式与兼容模式各有什么区别?",
            "HTML5 为什么只需要写 <!DOCTYPE HTML>？",
            "行内元素有哪些？块级元素有哪些？",
            "为什么要初始化CSS样式。",
            "css定义的权重",
            "介绍一下标准的CSS的盒子模型？",
        ]
    );
    assert_eq!(kinds(&c), ["-", "-", "empty", "-", "-", "-"]);
    let q = &c.questions[5];
    assert_eq!(
        c.answer(q).trim(),
        "有两种：IE 盒子模型、W3C 盒子模型。",
        "the answer ends at the next heading"
    );
    assert_eq!(c.heading(q).level, 3, "one below its topic heading");
    assert_eq!(c.answer_indent(q), 2);

    // The same list under a heading that asks is that question's answer: items ask only
    // where nothing else does.
    let text =
        "## 1. What are the HTML basics?\n\n- What is a doctype?\n- What is an element?\n- What is an attribute?\n";
    let c = parse(text);
    assert_eq!(c.questions.len(), 1);
    assert!(
        parse_fragment_questions("- a?\n- b?\n- c?\n").is_empty(),
        "an answer's own list never asks"
    );

    // A list of steps with a question or two among them is no bank.
    let text = "# Install\n\n- Download the archive.\n- Unpack it.\n- Why root? Do not.\n- Run make.\n- Done?\n";
    assert!(parse(text).questions.is_empty());
}

fn parse_fragment_questions(text: &str) -> Vec<Question> {
    Chapter::parse_fragment(text, &Rules::default()).questions
}
