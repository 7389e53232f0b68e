//! The whole book as context (issue 25, items 1 and 2): a book of real chapters where a gap's
//! closest answer lives in another chapter; the prompt holds that answer, `--dry-run --json`
//! lists it, and a question is never its own related answer.

mod common;

use aigcq::chapter::{Chapter, QuestionConfig, Rules};
use serde_json::Value;

/// A project of four real chapters of the book; their names below `content/`.
fn book() -> Option<(tempfile::TempDir, Vec<String>)> {
    let corpus = common::corpus()?;
    let dir = common::project("", "");
    std::fs::remove_file(dir.path().join("content/ch.md")).unwrap();
    let mut names = Vec::new();
    for (folder, file) in [
        ("AIGC图像创作&AI绘画基础", "01_扩散模型原理基础.md"),
        ("AIGC图像创作&AI绘画基础", "03_类LoRA技术基础.md"),
        ("大模型基础", "01_基础概念与概述.md"),
        ("深度学习基础", "08_经典模型与应用.md"),
    ] {
        std::fs::create_dir_all(dir.path().join("content").join(folder)).unwrap();
        let name = format!("{folder}/{file}");
        std::fs::copy(corpus.join(&name), dir.path().join("content").join(&name)).unwrap();
        names.push(name);
    }
    Some((dir, names))
}

/// An answered question of chapter `name` with at least 12 CJK characters: its heading text,
/// anchor and answer.
fn answered(dir: &std::path::Path, name: &str) -> (String, String, String) {
    let text = std::fs::read_to_string(dir.join("content").join(name)).unwrap();
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let chapter = Chapter::parse(&text, &rules);
    chapter
        .questions
        .iter()
        .filter(|q| !q.group && q.gap.is_none())
        .map(|q| {
            let h = chapter.heading(q);
            (
                h.text.clone(),
                h.anchor().to_owned(),
                chapter.answer_body(q).trim().to_owned(),
            )
        })
        .find(|(t, _, a)| t.chars().filter(|c| *c > '\u{2E80}').count() >= 12 && a.chars().count() > 200)
        .expect("an answered question")
}

/// A question's text without its number and its `面试问题：` label.
fn core(question: &str) -> &str {
    let bare = question.trim_start_matches(|c: char| c.is_ascii_digit() || ".、 ".contains(c));
    bare.strip_prefix("面试问题：").unwrap_or(bare)
}

fn dry_run(dir: &std::path::Path, args: &[&str]) -> Vec<Value> {
    let out = common::aigcq_at(dir, "http://127.0.0.1:9")
        .args(["draft", "--dry-run", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_gaps_closest_answer_in_another_chapter_reaches_its_prompt() {
    let Some((dir, names)) = book() else { return };
    let d = dir.path();
    let (question, anchor, answer) = answered(d, &names[0]);
    // The same subject asked again, in other words, in another chapter, with no answer.
    let asking = d.join("content").join(&names[2]);
    let mut text = std::fs::read_to_string(&asking).unwrap();
    text.push_str(&format!("\n\n### 面试问题：补充题，请再讲讲{}\n", core(&question)));
    std::fs::write(&asking, text).unwrap();

    let prompts = dry_run(d, &["补充题"]);
    assert_eq!(prompts.len(), 1);
    let related = prompts[0]["related"].as_array().unwrap();
    assert!(!related.is_empty() && related.len() <= 3, "{related:#?}");
    assert_eq!(related[0]["chapter"], names[0].as_str(), "{related:#?}");
    assert_eq!(related[0]["anchor"], anchor.as_str());
    assert_eq!(related[0]["question"], question.as_str());
    // The link goes from the asking chapter's folder to the other's.
    assert_eq!(
        related[0]["link"],
        format!("../{}#{anchor}", names[0]).replace(' ', "%20")
    );
    // Other chapters first; the scores of a group fall.
    let own: Vec<bool> = related.iter().map(|r| r["chapter"] == names[2].as_str()).collect();
    assert!(own.windows(2).all(|w| w[0] <= w[1]), "{related:#?}");
    // The prompt holds the answer, cut to the budget at most.
    let user = prompts[0]["messages"]["user"].as_str().unwrap();
    let shown = related[0]["answer"].as_str().unwrap();
    assert!(user.contains(shown), "{user}");
    assert!(answer.starts_with(shown) && shown.chars().count() >= 200, "{shown}");
    let total: usize = related
        .iter()
        .map(|r| r["answer"].as_str().unwrap().chars().count())
        .sum();
    assert!(total <= 3000, "{total}");

    // 0 turns it off.
    let off = dry_run(d, &["补充题", "--related-chars", "0"]);
    assert_eq!(off[0]["related"], serde_json::json!([]));
    assert!(!off[0]["messages"]["user"].as_str().unwrap().contains(shown));

    // The index was kept in the drafts folder's cache.
    assert!(d.join("drafts/.cache/related/manifest.json").is_file());
}

#[test]
fn a_question_is_never_its_own_related_answer() {
    let Some((dir, names)) = book() else { return };
    let d = dir.path();
    let (question, anchor, answer) = answered(d, &names[0]);
    // A rewrite of an answered question, its chapter alone in the book: its current answer is
    // the best match there is, and every other one is in its own chapter.
    let away = d.join("away");
    std::fs::rename(d.join("content"), &away).unwrap();
    std::fs::create_dir_all(d.join("content").join(names[0].rsplit_once('/').unwrap().0)).unwrap();
    std::fs::copy(away.join(&names[0]), d.join("content").join(&names[0])).unwrap();
    let prompts = dry_run(d, &["--rewrite", &question]);
    assert_eq!(prompts.len(), 1, "{prompts:#?}");
    let related = prompts[0]["related"].as_array().unwrap();
    assert!(!related.is_empty(), "the book has related answers");
    for r in related {
        assert!(
            !(r["chapter"] == names[0].as_str() && r["anchor"] == anchor.as_str()),
            "{r:#?}"
        );
        assert_ne!(r["answer"].as_str().unwrap(), answer);
    }

    // The rest of the book is back, one chapter edited: the index follows it.
    std::fs::remove_dir_all(d.join("content")).unwrap();
    std::fs::rename(&away, d.join("content")).unwrap();
    let path = d.join("content").join(&names[2]);
    let before = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!(
            "{before}\n\n### 面试问题：索引更新测试，{}\n\n旧章节里新写的答案。\n",
            core(&question)
        ),
    )
    .unwrap();
    let prompts = dry_run(d, &["--rewrite", &question]);
    let related = prompts[0]["related"].as_array().unwrap();
    assert_eq!(related[0]["chapter"], names[2].as_str(), "{related:#?}");
    assert_eq!(related[0]["answer"], "旧章节里新写的答案。");
}

#[test]
fn a_gap_asked_again_is_marked_answered_where_it_is_and_drafted_from_that_answer() {
    let Some((dir, names)) = book() else { return };
    let d = dir.path();
    let (question, anchor, answer) = answered(d, &names[0]);
    // Asked again in another chapter: numbered, full-width punctuation, no answer; and a
    // question on the same subject that is another question.
    let again = format!(
        "12．{}",
        question.replace('，', ",").replace('？', "?").replace('：', ":")
    );
    let path = d.join("content").join(&names[2]);
    let before = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!(
            "{before}\n\n### {again}\n\n### 面试问题：{}与本章内容有什么联系？\n",
            core(&question)
        ),
    )
    .unwrap();

    let out = common::aigcq_at(d, "http://127.0.0.1:9")
        .args(["gaps", "--json"])
        .output()
        .unwrap();
    let gaps: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let twin = format!("{}#{anchor}", names[0]);
    let marked: Vec<&Value> = gaps.iter().filter(|g| g.get("answered_in").is_some()).collect();
    assert_eq!(marked.len(), 1, "{marked:#?}");
    assert_eq!(marked[0]["question"], again.as_str());
    assert_eq!(marked[0]["answered_in"], twin.as_str());
    let out = common::aigcq_at(d, "http://127.0.0.1:9").arg("gaps").output().unwrap();
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(human.contains(&format!("{again}  (answered in {twin})")), "{human}");

    // Its draft rests on that answer, as a reference named after it, and not again among
    // the related answers.
    let prompts = dry_run(d, &["12．"]);
    assert_eq!(prompts.len(), 1, "{prompts:#?}");
    let user = prompts[0]["messages"]["user"].as_str().unwrap();
    let head: String = answer.chars().take(150).collect();
    assert!(
        user.contains(&format!("<参考资料 来源=\"{twin}\">")) || user.contains(&format!("source=\"{twin}\"")),
        "{user}"
    );
    assert!(user.contains(&head), "{user}");
    let related = prompts[0]["related"].as_array().unwrap();
    assert!(
        related
            .iter()
            .all(|r| r["anchor"] != anchor.as_str() || r["chapter"] != names[0].as_str())
    );
}

#[test]
fn a_forged_cache_folder_never_makes_the_index_write_outside_the_project() {
    let dir = common::project(&common::chapter_with_gaps(3), "");
    let d = dir.path();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.join("drafts/.cache")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.join("drafts/.cache/related")).unwrap();
    let prompts = dry_run(d, &[]);
    assert!(!prompts.is_empty());
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside"
    );

    // A damaged index that claims to be current is built again.
    std::fs::remove_file(d.join("drafts/.cache/related")).unwrap();
    std::fs::create_dir_all(d.join("drafts/.cache/related")).unwrap();
    std::fs::write(
        d.join("drafts/.cache/related/manifest.json"),
        r#"{"version":1,"chapters":{"ch.md":"x"}}"#,
    )
    .unwrap();
    std::fs::write(d.join("drafts/.cache/related/meta.json"), "not tantivy's").unwrap();
    assert_eq!(dry_run(d, &[]).len(), prompts.len());
    assert!(
        std::fs::read_to_string(d.join("drafts/.cache/related/meta.json"))
            .unwrap()
            .starts_with('{')
    );

    // Nor through a linked .cache.
    std::fs::remove_dir_all(d.join("drafts/.cache")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.join("drafts/.cache")).unwrap();
    dry_run(d, &[]);
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside"
    );
}
