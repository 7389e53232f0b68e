//! The default prompt for question 7 of the bundled chapter, as the model receives it.

use std::path::Path;

use aigcq::chapter::{Chapter, QuestionConfig, Rules};
use aigcq::prompt::{self, RunContext, Templates};

#[test]
fn default_prompt_for_question_7_of_the_bundled_chapter() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = "第一章_主流AIGC图像生成编辑大模型高频考点.md";
    let text = std::fs::read_to_string(root.join("content").join(name)).unwrap();
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let chapter = Chapter::parse(&text, &rules);
    let gap = chapter.gaps().find(|g| g.index == 7).expect("question 7 is a gap");
    let run = RunContext {
        style: Some(
            std::fs::read_to_string(root.join("prompts").join(prompt::STYLE_FILE))
                .unwrap()
                .trim()
                .to_owned(),
        ),
        today: "2026-11-26".into(),
        example_chars: 4000,
        prompt_cache_key: false,
        glossary: None,
        related: None,
        related_chars: 0,
    };
    let facts = prompt::ChapterFacts::new(&chapter, name);
    let ctx = prompt::context(&facts, &gap, &rules, &run, false, &[]);
    assert_eq!(ctx.language, "zh");
    assert_eq!(ctx.question.level, 2);
    let templates = Templates::load(&root.join("prompts"), "default").unwrap();
    let m = templates.render(&ctx).unwrap();
    insta::assert_snapshot!(format!("[system]\n{}\n\n[user]\n{}\n", m.system.unwrap(), m.user));
}

#[test]
fn template_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.jinja"),
        "{% block user %}\n{% if %}\n{% endblock %}\n",
    )
    .unwrap();
    let e = Templates::load(dir.path(), "broken")
        .err()
        .expect("a syntax error fails to load")
        .to_string();
    assert!(e.contains("broken.jinja:2"), "{e}");

    std::fs::write(
        dir.path().join("bad.jinja"),
        "{% block user %}\nok\n{{ question.text | nosuchfilter }}\n{% endblock %}\n",
    )
    .unwrap();
    let t = Templates::load(dir.path(), "bad").unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("content/第一章_主流AIGC图像生成编辑大模型高频考点.md")).unwrap();
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let chapter = Chapter::parse(&text, &rules);
    let gap = chapter.gaps().next().unwrap();
    let run = RunContext {
        style: None,
        today: "2026-11-26".into(),
        example_chars: 0,
        prompt_cache_key: false,
        glossary: None,
        related: None,
        related_chars: 0,
    };
    let e = t
        .render(&prompt::context(
            &prompt::ChapterFacts::new(&chapter, "ch.md"),
            &gap,
            &rules,
            &run,
            false,
            &[],
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.jinja:3") && e.contains("nosuchfilter"), "{e}");

    let missing = Templates::load(dir.path(), "nope").err().unwrap().to_string();
    assert!(
        missing.contains("nope.jinja") && missing.contains("bad") && missing.contains("default (built-in)"),
        "{missing}"
    );
}

/// Issue 27: the built-in template and rubric belong to no subject and follow the chapter's
/// language; this repository's `prompts/` keeps the bundled book's own.
#[test]
fn the_built_in_template_and_rubric_follow_the_chapter_language() {
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let run = RunContext {
        style: None,
        today: "2026-11-26".into(),
        example_chars: 4000,
        prompt_cache_key: false,
        glossary: None,
        related: None,
        related_chars: 0,
    };
    let nowhere = Path::new("/nonexistent");
    let (default, judge) = (
        Templates::load(nowhere, "default").unwrap(),
        Templates::load(nowhere, "judge").unwrap(),
    );
    for (text, said, rubric) in [
        (
            "# FAQ\n\n## Why?\n\nBecause.\n\n## How?\n",
            "Answer question 2: How?",
            "The answer must be in English",
        ),
        (
            "# 章\n\n## 1. 为何？\n\n因为。\n\n## 2. 如何？\n",
            "请回答第 2 题：2. 如何？",
            "答案应使用中文",
        ),
    ] {
        let chapter = Chapter::parse(text, &rules);
        let gap = chapter.gaps().next().unwrap();
        let facts = prompt::ChapterFacts::new(&chapter, "ch.md");
        let ctx = prompt::context(&facts, &gap, &rules, &run, false, &[]);
        let m = default.render(&ctx).unwrap();
        let judged = judge
            .render_for(
                &serde_json::json!({
                    "question": {"text": ctx.question.text, "index": 2, "id": "x", "kind": "empty", "sub_questions": []},
                    "answer": "…", "references": [], "language": ctx.language,
                    "truncated": false, "filtered": false, "warnings": [],
                    "chapter": {"title": "t", "path": "ch.md"},
                }),
                "x",
            )
            .unwrap();
        let all = format!(
            "{}\n{}\n{}\n{}",
            m.system.unwrap(),
            m.user,
            judged.system.unwrap(),
            judged.user
        );
        assert!(all.contains(said) && all.contains(rubric), "{all}");
        for subject in ["AIGC", "面试", "interview"] {
            assert!(!all.contains(subject), "{subject} in {all}");
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let book = std::fs::read_to_string(root.join("prompts/default.jinja")).unwrap();
    assert!(book.contains("AIGC") && book != prompt::BUILTIN_DEFAULT);
}

#[test]
fn outlines_list_their_sub_questions_and_stubs_their_text() {
    let text = "# 章\n\n## 1、甲？\n\n- Q1：什么是A？\n- Q2：什么是B？\n\n## 2、乙？\n\n见[链接](http://x)\n";
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let chapter = Chapter::parse(text, &rules);
    let run = RunContext {
        style: None,
        today: "2026-11-26".into(),
        example_chars: 0,
        prompt_cache_key: false,
        glossary: None,
        related: None,
        related_chars: 0,
    };
    let templates = Templates::load(Path::new("/nonexistent"), "default").unwrap();
    let user = |index: usize| {
        let gap = chapter.gaps().find(|g| g.index == index).unwrap();
        templates
            .render(&prompt::context(
                &prompt::ChapterFacts::new(&chapter, "ch.md"),
                &gap,
                &rules,
                &run,
                false,
                &[],
            ))
            .unwrap()
            .user
    };
    let outline = user(1);
    assert!(
        outline.contains("逐一回答") && outline.contains("- Q1：什么是A？\n- Q2：什么是B？"),
        "{outline}"
    );
    let stub = user(2);
    assert!(stub.contains("草稿") && stub.contains("见[链接](http://x)"), "{stub}");
}

#[test]
fn a_rewrite_is_not_shown_its_own_answer_as_a_neighbour() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let name = "第一章_主流AIGC图像生成编辑大模型高频考点.md";
    let text = std::fs::read_to_string(root.join("content").join(name)).unwrap();
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let chapter = Chapter::parse(&text, &rules);
    let run = RunContext {
        style: None,
        today: "2026-11-26".into(),
        example_chars: 4000,
        prompt_cache_key: false,
        glossary: None,
        related: None,
        related_chars: 0,
    };
    let facts = prompt::ChapterFacts::new(&chapter, name);
    let mut rewrites = 0;
    for q in chapter.questions.iter().filter(|q| !q.group && q.gap.is_none()) {
        let gap = chapter.as_gap(q, aigcq::chapter::GapKind::Stub);
        let ctx = prompt::context(&facts, &gap, &rules, &run, true, &[]);
        assert!(ctx.question.existing.is_some());
        assert!(!ctx.examples.iter().any(|e| e.index == q.index), "question {}", q.index);
        assert!(!ctx.examples.is_empty());
        rewrites += 1;
    }
    assert!(rewrites >= 3, "{rewrites}");
}
