//! `prompts/glossary.toml` (issue 25, item 4): the prompt lists the preferred forms, a draft
//! that writes an avoided form gets the `terminology` warning, `check` finds them in chapters
//! (prose only, not code).

mod common;

use aigcq::store::Store;
use serde_json::Value;

const GLOSSARY: &str = "[[terms]]\nuse = \"扩散模型\"\navoid = [\"diffusion模型\"]\nnote = \"全书统一\"\n\n[[terms]]\nuse = \"LoRA\"\navoid = [\"lora\"]\n";

fn project(chapter: &str) -> tempfile::TempDir {
    let dir = common::project(chapter, "");
    std::fs::create_dir_all(dir.path().join("prompts")).unwrap();
    std::fs::write(dir.path().join("prompts/glossary.toml"), GLOSSARY).unwrap();
    dir
}

#[test]
fn the_prompt_lists_the_terms_and_a_draft_writing_an_avoided_form_is_warned() {
    let fake = common::start_in_thread(|_, _| {
        common::Reply::stream("diffusion模型通过逐步去噪生成图像，常配合 lora 微调，写得足够长，算作真正的回答。")
    });
    let text = common::chapter_with_gaps(1);
    let dir = project(&text);
    let dry = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--dry-run"])
        .output()
        .unwrap();
    let prompt = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert!(
        prompt.contains("- 扩散模型（不写 diffusion模型）：全书统一"),
        "{prompt}"
    );
    assert!(prompt.contains("- LoRA（不写 lora）"), "{prompt}");

    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let draft = Store::new(dir.path().join("drafts")).pending().0.remove(0);
    let warning = draft
        .meta
        .warnings
        .iter()
        .find(|w| w.code == "terminology")
        .expect("a terminology warning");
    assert_eq!(
        warning.message,
        "writes \"diffusion模型\" where the book writes \"扩散模型\"; writes \"lora\" where the book writes \"LoRA\""
    );
}

#[test]
fn check_finds_avoided_forms_in_prose_and_not_in_code() {
    let chapter = "# 章\n\n## 1、什么是扩散模型？\n\ndiffusion模型是一种生成模型，写得足够长。\n\n```python\nlora = load()\n```\n\n## 2、什么是 LoRA？\n\n低秩适配，`lora` 是库名；正文里写 lora 就不对。\n";
    let dir = project(chapter);
    let out = common::aigcq_at(dir.path(), "http://127.0.0.1:9")
        .args(["check", "--json"])
        .output()
        .unwrap();
    let found: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let terms: Vec<(u64, &str)> = found
        .iter()
        .filter(|f| f["rule"] == "terminology")
        .map(|f| (f["line"].as_u64().unwrap(), f["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        terms,
        [
            (5, "writes \"diffusion模型\" where the book writes \"扩散模型\""),
            (13, "writes \"lora\" where the book writes \"LoRA\"")
        ]
    );
    assert_eq!(out.status.code(), Some(1), "findings exit 1");
    // Without a glossary, no such rule runs.
    std::fs::remove_file(dir.path().join("prompts/glossary.toml")).unwrap();
    let out = common::aigcq_at(dir.path(), "http://127.0.0.1:9")
        .args(["check", "--json"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("terminology"));
}
