//! The read-only commands, run as a user runs them.

use std::path::Path;

use assert_cmd::Command;

fn aigcq(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("aigcq").unwrap();
    cmd.current_dir(dir).env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    cmd
}

fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn stdout(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn gaps_on_the_bundled_chapter() {
    insta::assert_snapshot!("gaps_human", stdout(aigcq(project()).args(["gaps", "--stats"]), 0));
    insta::assert_snapshot!("gaps_json", stdout(aigcq(project()).args(["gaps", "--json"]), 0));
}

#[test]
fn the_bundled_chapter_lacks_exactly_questions_7_8_11_12() {
    let json: serde_json::Value = serde_json::from_str(&stdout(aigcq(project()).args(["gaps", "--json"]), 0)).unwrap();
    let found: Vec<_> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["index"].as_u64().unwrap(), g["kind"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        found,
        [
            (7, "empty".into()),
            (8, "empty".into()),
            (11, "empty".into()),
            (12, "empty".into())
        ]
    );
}

#[test]
fn check_on_the_bundled_chapter() {
    insta::assert_snapshot!("check_human", stdout(aigcq(project()).args(["check"]), 1));
    insta::assert_snapshot!("check_json", stdout(aigcq(project()).args(["check", "--json"]), 1));
}

#[test]
fn gaps_check_flag_and_kind_filter() {
    stdout(aigcq(project()).args(["gaps", "--check"]), 1);
    let out = stdout(aigcq(project()).args(["gaps", "--json", "--kind", "stub"]), 0);
    assert_eq!(out.trim(), "[]");
    let stats = stdout(aigcq(project()).args(["gaps", "--stats", "--kind", "stub"]), 0);
    assert!(
        stats.contains("8/12"),
        "a filter does not change the answered count: {stats}"
    );
    let out = aigcq(project()).args(["gaps", "--kind", "nonsense"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_files_are_reported_and_the_rest_is_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    std::fs::create_dir(&content).unwrap();
    std::fs::write(content.join("a_bad.md"), b"## 1. x?\n\xff").unwrap();
    std::fs::write(content.join("b_binary.md"), b"\0\x01\x02").unwrap();
    std::fs::write(content.join("c_empty.md"), b"").unwrap();
    std::fs::write(
        content.join("d_bom_crlf.md"),
        "\u{feff}## 1. 甲？\r\n\r\n## 2. 乙？\r\n".as_bytes(),
    )
    .unwrap();
    std::fs::write(content.join("e_unterminated.md"), "## 1. 丙？\n\n```\n## 2. 代码里？\n").unwrap();
    let long = format!(
        "## 1. 长？\n\n{}\n\n## 2. 深？\n\n{}x\n",
        "字".repeat(1 << 20),
        "> - ".repeat(5000)
    );
    std::fs::write(content.join("f_huge.md"), long).unwrap();

    let out = aigcq(dir.path()).args(["gaps", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("a_bad.md: not valid UTF-8 at byte 9"), "{stderr}");
    assert!(stderr.contains("b_binary.md: binary file"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let gaps: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<_> = gaps
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        files,
        ["content/d_bom_crlf.md", "content/d_bom_crlf.md", "content/f_huge.md"],
        "the fence answers e; f_huge.s second answer is a one-letter stub"
    );
}

#[test]
fn missing_content_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = aigcq(dir.path()).arg("gaps").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("content folder"));
}

#[test]
fn init_creates_a_project_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("book");
    let out = aigcq(dir.path()).args(["init", "book"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("next:") && said.contains("book/content/") && said.contains("aigcq gaps"),
        "{said}"
    );
    for p in ["aigcq.toml", "content", "drafts", "prompts/default.jinja"] {
        assert!(target.join(p).exists(), "{p}");
    }
    std::fs::write(target.join("content/ch.md"), "## 1. 甲？\n").unwrap();
    let out = stdout(aigcq(&target).args(["gaps", "--json"]), 0);
    assert!(out.contains("\"id\": \"ch.md#1-甲\""), "{out}");
    // The new project drafts with the template init wrote.
    let dry = stdout(aigcq(&target).args(["draft", "--dry-run"]), 0);
    assert!(dry.contains("请回答第 1 题：1. 甲？"), "{dry}");
    // Issue 27: the template init wrote is for any bank: an English chapter gets English
    // instructions and no persona of this repository's AIGC book.
    std::fs::write(
        target.join("content/faq.md"),
        "# FAQ\n\n## How do I reset my password?\n\nUse the link on the sign-in page.\n\n## Why is the window blank?\n",
    )
    .unwrap();
    let dry = stdout(aigcq(&target).args(["draft", "faq.md", "--dry-run"]), 0);
    assert!(
        dry.contains("Answer question 2: Why is the window blank?")
            && dry.contains("You are one of the authors of this question bank")
            && dry.contains("Answers the chapter already has"),
        "{dry}"
    );
    for aigc in ["AIGC", "面试", "interview", "本章"] {
        assert!(!dry.contains(aigc), "{aigc} in {dry}");
    }
    let again = aigcq(dir.path()).args(["init", "book"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn config_is_found_by_walking_up_and_rules_can_be_disabled() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("aigcq.toml"),
        "[paths]\ncontent = \"book\"\n[check]\ndisable = [\"image-alt\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("book/sub")).unwrap();
    std::fs::write(dir.path().join("book/ch.md"), "## 1. 甲？\n\n![](x.png)\n").unwrap();
    let out = stdout(aigcq(&dir.path().join("book/sub")).args(["check", "--json"]), 1);
    assert!(out.contains("local-target") && !out.contains("image-alt"), "{out}");
}

#[test]
fn completions_and_help() {
    assert!(stdout(aigcq(project()).args(["completions", "bash"]), 0).contains("aigcq"));
    assert!(stdout(aigcq(project()).args(["gaps", "--help"]), 0).contains("Examples:"));
    let help = stdout(aigcq(project()).args(["check", "--help"]), 0);
    for rule in aigcq::check::Rule::ALL {
        let (rule, what) = (rule.name(), rule.what());
        assert!(
            help.contains(rule) && help.contains(what),
            "{rule} missing from check --help"
        );
    }
}

/// Issue 27: every page of help, as a snapshot: complete descriptions, `-v` only on the
/// commands that send requests, the review's keys all named.
#[test]
fn help_pages() {
    for page in [
        &["--help"][..],
        &["gaps", "--help"],
        &["check", "--help"],
        &["draft", "--help"],
        &["batch", "--help"],
        &["batch", "collect", "--help"],
        &["review", "--help"],
        &["judge", "--help"],
        &["stats", "--help"],
        &["eval", "--help"],
        &["config", "--help"],
        &["init", "--help"],
    ] {
        let text = stdout(aigcq(project()).env("COLUMNS", "100").args(page), 0);
        let name = match &page[..page.len() - 1] {
            [] => "help".to_owned(),
            words => format!("help_{}", words.join("_")),
        };
        insta::assert_snapshot!(name, text);
    }
}
