//! Issue 22: nothing read from the drafts folder is trusted. Forged ledger lines, `.replaced`
//! records, drafts and batch requests naming paths outside the project are refused with an
//! error naming the record, and never touch a file outside it or another question's answer.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use aigcq::store::{self, Store};
use common::Reply;
use proptest::prelude::*;
use serde_json::{Value, json};

/// A sandbox holding the project (`proj/`) and files that belong to nobody's project
/// (`victims/`, `outside/`), which no command may touch.
struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
    proj: PathBuf,
}

const CHAPTER: &str = "# 测试章节\n\n## 1、什么是扩散模型？\n\n扩散模型通过逐步去噪从噪声中生成数据，是当前图像生成的主流方法。\n\n## 2、问题2是什么？\n\n## 3、问题3是什么？\n\n";

fn sandbox() -> Sandbox {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let proj = root.join("proj");
    for d in [
        "proj/content",
        "proj/drafts/.rejected",
        "proj/victims",
        "victims",
        "outside",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(proj.join("content/ch.md"), CHAPTER).unwrap();
    std::fs::write(proj.join("aigcq.toml"), "").unwrap();
    std::fs::write(root.join("victims/important.md"), "precious\n").unwrap();
    std::fs::write(proj.join("victims/important.md"), "shipped in the project\n").unwrap();
    std::fs::write(root.join("outside/v2.md"), CHAPTER).unwrap();
    Sandbox { _dir: dir, root, proj }
}

/// A sandbox with a pending draft for question 2; the chapter's text and the store.
fn sandbox_with_draft() -> (Sandbox, String, Store) {
    let s = sandbox();
    let text = std::fs::read_to_string(s.proj.join("content/ch.md")).unwrap();
    let store = Store::new(s.proj.join("drafts"));
    store
        .save(
            &common::meta_for("ch.md", &text, 2),
            "问题 2 的答案，足够长的一段文字。\n",
        )
        .unwrap();
    (s, text, store)
}

impl Sandbox {
    /// Every file of the sandbox outside the project's drafts folder, with its bytes.
    fn outside_drafts(&self) -> BTreeMap<String, Vec<u8>> {
        walkdir::WalkDir::new(&self.root)
            .into_iter()
            .filter_entry(|e| !e.path().starts_with(self.proj.join("drafts")))
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let p = e.path().strip_prefix(&self.root).unwrap().display().to_string();
                (p, std::fs::read(e.path()).unwrap())
            })
            .collect()
    }

    fn ledger(&self, lines: &[Value]) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(self.proj.join("drafts/ledger.jsonl"), text).unwrap();
    }

    fn run(&self, url: Option<&str>, args: &[&str]) -> (bool, String) {
        let mut cmd = common::aigcq_at(&self.proj, url.unwrap_or("http://127.0.0.1:9/v1"));
        let out = cmd.args(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

fn line(decision: &str, chapter: &str, draft: &str, undo: Option<&str>) -> Value {
    let mut l = json!({
        "time": "2026-12-01T00:00:00Z", "chapter": chapter, "question_id": format!("{chapter}#x"),
        "draft": draft, "decision": decision, "model": "m", "template_hash": "t", "answer_hash": "a",
    });
    if let Some(u) = undo {
        l["undo"] = json!(u);
    }
    l
}

const ANSWER_1: &str = "扩散模型通过逐步去噪从噪声中生成数据，是当前图像生成的主流方法。\n";

/// A `.replaced` record that claims draft `draft` wrote question 1's answer.
fn forged_record(s: &Sandbox, draft: &str, draft_text: &str) -> String {
    let offset = CHAPTER.find(ANSWER_1).unwrap();
    let record = json!({"chapter": "ch.md", "edits": [{
        "draft": draft, "offset": offset, "before": "", "after": ANSWER_1, "draft_text": draft_text,
    }]});
    let rel = ".replaced/ch/forged.json";
    let path = s.proj.join("drafts").join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, record.to_string()).unwrap();
    rel.into()
}

#[test]
fn a_forged_reject_line_never_moves_a_file_outside_the_project() {
    for draft in [
        "../../victims/important",
        "../../content/ch",
        "/tmp/../victims/important",
    ] {
        let s = sandbox();
        let before = s.outside_drafts();
        // The "rejected" copy it would bring back: a file shipped inside the project.
        s.ledger(&[line("rejected", "ch.md", draft, None)]);
        let (ok, out) = s.run(None, &["review", "--undo"]);
        assert!(!ok, "{draft}: {out}");
        assert!(
            out.contains("ledger.jsonl:1"),
            "{draft}: the error names the line: {out}"
        );
        assert_eq!(s.outside_drafts(), before, "{draft}: {out}");
    }
}

#[test]
fn a_forged_accept_line_never_writes_outside_the_project_nor_removes_an_answer() {
    let s = sandbox();
    let rel = forged_record(&s, "../../victims/pwn", "PWNED");
    s.ledger(&[line("accepted", "ch.md", "../../victims/pwn", Some(&rel))]);
    let before = s.outside_drafts();
    let (ok, out) = s.run(None, &["review", "--undo"]);
    assert!(!ok, "{out}");
    assert!(out.contains("ledger.jsonl:1"), "{out}");
    assert_eq!(s.outside_drafts(), before, "{out}");
    assert!(!s.root.join("victims/pwn.md").exists());

    // A record path that leaves the drafts folder is refused too.
    s.ledger(&[line(
        "accepted",
        "ch.md",
        "ch/002-aaaa",
        Some("../../victims/important.md"),
    )]);
    let (ok, out) = s.run(None, &["review", "--undo"]);
    assert!(!ok && out.contains("ledger.jsonl:1"), "{out}");
    assert_eq!(s.outside_drafts(), before, "{out}");
}

/// Bug 6: a record whose draft is fine but whose text is another question's answer.
#[test]
fn a_forged_record_never_makes_undo_remove_another_questions_answer() {
    let s = sandbox();
    let text = std::fs::read_to_string(s.proj.join("content/ch.md")).unwrap();
    let mut meta = common::meta_for("ch.md", &text, 2);
    meta.question_id = "ch.md#2问题2是什么".into();
    let draft_text = store::to_text(&meta, "问题 2 的答案，足够长的一段文字。\n").unwrap();
    let rel = forged_record(&s, "ch/002-aaaa", &draft_text);
    let mut l = line("accepted", "ch.md", "ch/002-aaaa", Some(&rel));
    l["question_id"] = json!(meta.question_id);
    l["answer_hash"] = json!(aigcq::identity::answer_hash(&aigcq::review::merge::normalize(
        "问题 2 的答案，足够长的一段文字。\n",
        "\n"
    )));
    s.ledger(&[l]);
    let before = s.outside_drafts();
    let (ok, out) = s.run(None, &["review", "--undo"]);
    assert!(!ok, "{out}");
    assert_eq!(s.outside_drafts(), before, "question 1's answer stays: {out}");
}

/// What undo removes is kept: the undone line of the ledger says where.
#[test]
fn undo_keeps_a_copy_of_what_it_removes() {
    let (s, text, _) = sandbox_with_draft();
    let (ok, out) = s.run(None, &["review", "--accept-all"]);
    assert!(ok, "{out}");
    let merged = std::fs::read_to_string(s.proj.join("content/ch.md")).unwrap();
    // The author improves the merged answer before undoing it.
    let edited = merged.replace("足够长的一段文字。", "足够长的一段文字。作者补充的一句。");
    std::fs::write(s.proj.join("content/ch.md"), &edited).unwrap();
    let (ok, out) = s.run(None, &["review", "--undo"]);
    assert!(!ok, "the chapter changed at that answer, so undo refuses: {out}");
    std::fs::write(s.proj.join("content/ch.md"), &merged).unwrap();
    let (ok, out) = s.run(None, &["review", "--undo"]);
    assert!(ok, "{out}");
    assert_eq!(std::fs::read_to_string(s.proj.join("content/ch.md")).unwrap(), text);
    let lines = common::ledger(&s.proj);
    let undone = lines.last().unwrap();
    assert_eq!(undone["decision"], "undone");
    assert_ne!(undone["undo"], lines[0]["undo"], "a copy of its own, not the accept's");
    let copy = s
        .proj
        .join("drafts")
        .join(undone["undo"].as_str().expect("a copy of what undo removed"));
    assert!(std::fs::read_to_string(copy).unwrap().contains("问题 2 的答案"));
}

/// Two questions hold the same answer; an unrelated edit moves the text: undo still finds
/// its own question's answer.
#[test]
fn undo_after_an_unrelated_edit_finds_its_answer_among_identical_ones() {
    let s = sandbox();
    let text = std::fs::read_to_string(s.proj.join("content/ch.md")).unwrap();
    let store = Store::new(s.proj.join("drafts"));
    for i in [2, 3] {
        store
            .save(&common::meta_for("ch.md", &text, i), "同样的答案，足够长的一段文字。\n")
            .unwrap();
    }
    let (ok, out) = s.run(None, &["review", "--accept-all"]);
    assert!(ok, "{out}");
    let merged = std::fs::read_to_string(s.proj.join("content/ch.md")).unwrap();
    let edited = merged.replacen("# 测试章节\n", "# 测试章节\n\n作者在开头加了一段说明。\n", 1);
    std::fs::write(s.proj.join("content/ch.md"), &edited).unwrap();
    let (ok, out) = s.run(None, &["review", "--undo", "2"]);
    assert!(ok, "{out}");
    let expected = text.replacen("# 测试章节\n", "# 测试章节\n\n作者在开头加了一段说明。\n", 1);
    assert_eq!(std::fs::read_to_string(s.proj.join("content/ch.md")).unwrap(), expected);
}

/// A pending draft whose front matter names a chapter outside the content folder, with the
/// prompt kept beside it.
fn forged_draft(s: &Sandbox, chapter: &str) -> String {
    let mut meta = common::meta_for("ch.md", CHAPTER, 2);
    meta.chapter = chapter.into();
    let dir = s.proj.join("drafts/ch");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("002-forged00.md");
    std::fs::write(&path, store::to_text(&meta, "一个答案，足够长的一段文字。\n").unwrap()).unwrap();
    let prompt = store::Prompt {
        model: "fake-model".into(),
        host: "h".into(),
        template: "default".into(),
        template_hash: "t".into(),
        params: Default::default(),
        messages: vec![aigcq::llm::Turn {
            role: "user".into(),
            content: "请回答第 2 题".into(),
        }],
    };
    std::fs::write(store::prompt_path(&path), serde_json::to_string(&prompt).unwrap()).unwrap();
    "ch/002-forged00".into()
}

#[test]
fn feedback_refuses_a_draft_whose_chapter_leaves_the_content_folder() {
    let fake = common::start_in_thread(|_, _| Reply::stream("修改后的答案，足够长的一段文字。"));
    for chapter in ["../../outside/v2.md", "/abs/outside/v2.md", "ch/../../../outside/v2.md"] {
        let s = sandbox();
        let chapter = chapter.replace("/abs", &s.root.display().to_string());
        let id = forged_draft(&s, &chapter);
        let before = s.outside_drafts();
        let (ok, out) = s.run(Some(&fake.url), &["draft", &id, "--feedback", "改短一点"]);
        assert!(!ok, "{chapter}: {out}");
        assert!(
            out.contains("leaves the content folder") || out.contains("outside the content folder"),
            "{out}"
        );
        assert_eq!(s.outside_drafts(), before, "{chapter}: {out}");
        assert!(!s.root.join("outside/v2").exists(), "{chapter}: {out}");
    }
}

#[test]
fn judge_refuses_a_draft_whose_chapter_leaves_the_content_folder() {
    let fake = common::start_in_thread(|_, _| Reply::Whole {
        content: r#"{"score": 9, "reasons": "好"}"#.into(),
        finish: "stop",
    });
    let s = sandbox();
    forged_draft(&s, "../../outside/v2.md");
    let (ok, out) = s.run(Some(&fake.url), &["judge"]);
    assert!(!ok, "{out}");
    assert!(out.contains("outside/v2.md"), "{out}");
    assert_eq!(fake.seen.requests.load(std::sync::atomic::Ordering::SeqCst), 0, "{out}");
    let (drafts, _) = Store::new(s.proj.join("drafts")).pending();
    assert_eq!(drafts[0].meta.score, None);
}

#[test]
fn collect_refuses_a_request_whose_chapter_leaves_the_content_folder() {
    let fake = batch_fake();
    let s = sandbox();
    let (ok, out) = s.run(Some(&fake.url), &["draft", "--batch"]);
    assert!(ok, "{out}");
    // Point every recorded request at a chapter outside the project.
    let batches = s.proj.join("drafts/.batches");
    for e in std::fs::read_dir(&batches).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".requests.jsonl") {
            let text = std::fs::read_to_string(&p).unwrap();
            let forged: String = text
                .lines()
                .map(|l| {
                    let mut v: Value = serde_json::from_str(l).unwrap();
                    v["chapter"] = json!(format!("{}/outside/v2.md", s.root.display()));
                    format!("{v}\n")
                })
                .collect();
            std::fs::write(&p, forged).unwrap();
        }
    }
    for _ in 0..3 {
        s.run(Some(&fake.url), &["batch", "status"]);
    }
    let before = s.outside_drafts();
    let (ok, out) = s.run(Some(&fake.url), &["batch", "collect"]);
    assert!(!ok, "{out}");
    assert!(out.contains("leaves the content folder"), "{out}");
    assert_eq!(s.outside_drafts(), before, "{out}");
    assert!(!s.root.join("outside/v2").exists(), "{out}");
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("victims".to_owned()),
        Just("important".to_owned()),
        Just("content".to_owned()),
        Just("ch".to_owned()),
        Just("link".to_owned()),
        Just(".rejected".to_owned()),
        Just(".replaced".to_owned()),
        Just("".to_owned()),
        "[a-z]{1,3}".prop_map(|s| s),
    ]
}

fn forged_path() -> impl Strategy<Value = String> {
    let random = (
        any::<bool>(),
        prop::collection::vec(component(), 1..6),
        prop::option::of(Just(".md")),
    )
        .prop_map(|(abs, parts, ext)| {
            format!("{}{}{}", if abs { "/" } else { "" }, parts.join("/"), ext.unwrap_or(""))
        });
    // Paths that climb out by `..` or a link and name a file that exists there.
    let climbing = (
        0..4usize,
        prop::sample::select(vec![
            "victims/important",
            "content/ch",
            "link/important",
            "proj/victims/important",
        ]),
    )
        .prop_map(|(up, target)| format!("{}{target}", "../".repeat(up)));
    prop_oneof![random, climbing]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Forged ledger lines and records with random paths (`..`, absolute, through a symbolic
    /// link inside the drafts folder that points outside) change nothing outside the drafts
    /// folder.
    #[test]
    fn forged_ledger_lines_and_records_change_nothing_outside(
        draft in forged_path(),
        chapter in forged_path(),
        undo in forged_path(),
        accepted in any::<bool>(),
    ) {
        let s = sandbox();
        std::os::unix::fs::symlink(s.root.join("victims"), s.proj.join("drafts/link")).unwrap();
        std::os::unix::fs::symlink(s.root.join("victims"), s.proj.join("drafts/.rejected/link")).unwrap();
        let record = forged_record(&s, &draft, "PWNED");
        let undo = if undo.len() % 2 == 0 { record } else { undo };
        let decision = if accepted { "accepted" } else { "rejected" };
        s.ledger(&[line(decision, &chapter, &draft, Some(&undo))]);
        let before = s.outside_drafts();
        let (_, out) = s.run(None, &["review", "--undo"]);
        prop_assert_eq!(s.outside_drafts(), before, "{}", out);
        prop_assert_eq!(std::fs::read_to_string(s.root.join("victims/important.md")).unwrap(), "precious\n");
        prop_assert!(!s.root.join("victims/pwn.md").exists());
    }
}

/// Bug 3: an editor saving the chapter every few milliseconds (as editors do: a new file
/// renamed over the old) while `review --accept-all` merges 160 drafts. Each save the editor
/// finds overwritten when it next reads the file must have been kept under `.replaced/`.
#[test]
fn an_editor_saving_during_accept_all_loses_no_save_without_a_copy() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let bin = assert_cmd::cargo::cargo_bin("aigcq");
    let (mut rounds_raced, mut succeeded) = (0, 0);
    // Saving more often than a merge takes starves it; less often, a save lands between the
    // merge's read and its rename: both kinds of timing.
    let pauses = [30, 3, 30, 20, 30, 10];
    for (round, pause) in pauses.into_iter().enumerate() {
        // The editor's mark sits before the first question, so every draft stays fresh.
        let text = common::chapter_with_gaps(160).replacen("# 测试章节\n", "# 测试章节\n<!-- save 0 -->\n", 1);
        let dir = common::project(&text, "");
        let store = Store::new(dir.path().join("drafts"));
        for meta in common::metas_for("ch.md", &text) {
            store
                .save(
                    &meta,
                    &format!("第 {} 题的答案，写得足够长，算作真正的回答。\n", meta.index),
                )
                .unwrap();
        }
        let chapter = dir.path().join("content/ch.md");
        let stop = Arc::new(AtomicBool::new(false));
        let overwritten = Arc::new(Mutex::new(Vec::new()));
        let editor = {
            let (stop, overwritten, chapter) = (stop.clone(), overwritten.clone(), chapter.clone());
            std::thread::spawn(move || {
                let mut last = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    let now = std::fs::read_to_string(&chapter).unwrap();
                    let marker = format!("<!-- save {last} -->");
                    if !now.contains(&marker) {
                        overwritten.lock().unwrap().push(last);
                    }
                    let next = format!("<!-- save {} -->", last + 1);
                    let saved = match now.lines().find(|l| l.starts_with("<!-- save ")) {
                        Some(old) => now.replacen(old, &next, 1),
                        None => now.replacen("# 测试章节\n", &format!("# 测试章节\n{next}\n"), 1),
                    };
                    last += 1;
                    let tmp = chapter.with_extension("md.swp");
                    std::fs::write(&tmp, saved).unwrap();
                    std::fs::rename(&tmp, &chapter).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(pause));
                }
                last
            })
        };
        let out = std::process::Command::new(&bin)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .args(["review", "--accept-all"])
            .output()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        stop.store(true, Ordering::SeqCst);
        let last = editor.join().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("round {round} ({pause} ms): {}", stderr.lines().last().unwrap_or(""));
        if out.status.success() {
            succeeded += 1;
            assert!(stderr.contains("files changed: content/ch.md"), "{stderr}");
        }
        let copies: Vec<String> = walkdir::WalkDir::new(dir.path().join("drafts/.replaced"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("-saved-"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        if !copies.is_empty() {
            rounds_raced += 1;
        }
        // What the swap set aside beside the chapter is gone once its copy was kept.
        let beside: Vec<String> = std::fs::read_dir(dir.path().join("content"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("aigcq"))
            .collect();
        assert!(beside.is_empty(), "round {round}: left beside the chapter: {beside:?}");
        // The chapter ends as the editor's last save, whoever wrote last: a merge made on a
        // save, or the save itself.
        let final_text = std::fs::read_to_string(&chapter).unwrap();
        assert!(
            final_text.contains(&format!("<!-- save {last} -->")),
            "round {round}: the editor's last save {last} is not in the chapter"
        );
        let lost: Vec<u32> = overwritten.lock().unwrap().clone();
        let lost: Vec<u32> = lost
            .into_iter()
            .filter(|n| !copies.iter().any(|c| c.contains(&format!("<!-- save {n} -->\n"))))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: saves {lost:?} lost without a copy; {stderr}"
        );
    }
    eprintln!("{rounds_raced} of {} rounds raced an editor's save", pauses.len());
    assert!(succeeded >= pauses.len() / 2, "only {succeeded} merges went through");
}

/// A Batch API fake that answers every request with the same good answer.
fn batch_fake() -> common::batch::BatchFake {
    common::batch::start(
        |_| {
            Ok((
                "**结论**：足够长的一段回答文字，写得清楚。".into(),
                json!({"prompt_tokens": 1, "completion_tokens": 1}),
            ))
        },
        false,
    )
}

/// A batch record and an empty requests file, as `draft --batch` leaves them, for a batch
/// the test's own server describes.
fn recorded_batch(s: &Sandbox, id: &str) {
    let dir = s.proj.join("drafts/.batches");
    std::fs::create_dir_all(&dir).unwrap();
    let record = json!({"id": id, "input_file_id": "file-in", "model": "fake-model", "host": "127.0.0.1",
        "submitted": "2026-12-01T00:00:00Z", "requests": 1,
        "remote": {"id": id, "status": "in_progress"}});
    std::fs::write(dir.join(format!("{id}.json")), record.to_string()).unwrap();
    std::fs::write(dir.join(format!("{id}.requests.jsonl")), "").unwrap();
}

/// A Batch API whose batch is complete and whose output file never ends.
fn endless_output() -> String {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/v1/batches/{id}",
            get(|axum::extract::Path(id): axum::extract::Path<String>| async move {
                axum::Json(json!({"id": id, "status": "completed", "output_file_id": "file-out"}))
            }),
        )
        .route(
            "/v1/files/{id}/content",
            get(|| async {
                let chunk = axum::body::Bytes::from(vec![b'x'; 1 << 16]);
                let endless =
                    futures_util::stream::repeat_with(move || Ok::<_, std::convert::Infallible>(chunk.clone()));
                axum::body::Body::from_stream(endless)
            }),
        );
    format!("{}/v1", common::serve_in_thread(app))
}

/// Bug 5: an output file that never ends stops at `[batch] max_download` with an error that
/// says so, and leaves no file behind; a killed download leaves only a name the sweep knows.
#[test]
fn an_endless_batch_download_stops_at_its_limit_and_leaves_nothing() {
    let url = endless_output();
    let s = sandbox();
    std::fs::write(s.proj.join("aigcq.toml"), "[batch]\nmax_download = 1000000\n").unwrap();
    recorded_batch(&s, "batch_x");
    let started = std::time::Instant::now();
    let (ok, out) = s.run(Some(&url), &["batch", "collect"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("larger than [batch] max_download (1000000 bytes)"),
        "{out}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let names = |s: &Sandbox| -> Vec<String> {
        std::fs::read_dir(s.proj.join("drafts/.batches"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    let mut left = names(&s);
    left.sort();
    assert_eq!(left, ["batch_x.json", "batch_x.requests.jsonl"]);

    // Killed mid-download (no limit reached yet): what is left is a temporary file of the
    // pattern that `atomic::sweep` removes.
    std::fs::write(s.proj.join("aigcq.toml"), "").unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("aigcq"))
        .current_dir(&s.proj)
        .env("OPENAI_BASE_URL", &url)
        .env("AIGCQ_MODEL", "fake-model")
        .args(["batch", "collect"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    for n in names(&s) {
        assert!(
            n.starts_with("batch_x.")
                || (n.starts_with(aigcq::atomic::TEMP_PREFIX) && n.ends_with(aigcq::atomic::TEMP_SUFFIX)),
            "{n} is not a name the sweep knows"
        );
    }
}

/// Bug 8: two `draft --batch` at once: every batch the provider created is recorded and can
/// be collected.
#[test]
fn two_concurrent_batch_submissions_record_every_batch() {
    let bin = assert_cmd::cargo::cargo_bin("aigcq");
    for _ in 0..4 {
        let fake = batch_fake();
        let s = sandbox();
        let children: Vec<_> = (0..2)
            .map(|_| {
                std::process::Command::new(&bin)
                    .current_dir(&s.proj)
                    .env("OPENAI_BASE_URL", &fake.url)
                    .env("AIGCQ_MODEL", "fake-model")
                    .env("NO_COLOR", "1")
                    .args(["draft", "--batch"])
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let created = fake.api.lock().unwrap().created.clone();
        for id in &created {
            let dir = s.proj.join("drafts/.batches");
            assert!(dir.join(format!("{id}.json")).is_file(), "{id} unrecorded");
            assert!(
                dir.join(format!("{id}.requests.jsonl")).is_file(),
                "{id} has no requests"
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(s.proj.join("drafts/.batches"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("sub-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

/// Rough edges of the batches folder: a junk record, a garbage request line, an output file
/// that is not JSON, a custom_id answered twice, zero limits and impossible prices.
#[test]
fn unreadable_batch_files_are_named_and_the_rest_goes_on() {
    let fake = batch_fake();
    let s = sandbox();
    let (ok, out) = s.run(Some(&fake.url), &["draft", "--batch"]);
    assert!(ok, "{out}");
    let dir = s.proj.join("drafts/.batches");
    std::fs::write(dir.join("junk.json"), "not json").unwrap();
    let (ok, out) = s.run(Some(&fake.url), &["batch", "list"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("junk.json is not a batch record") && out.contains("batch_1"),
        "{out}"
    );

    // A garbage line in the requests file: the error names the file and line.
    let requests = dir.join("batch_1.requests.jsonl");
    let good = std::fs::read_to_string(&requests).unwrap();
    std::fs::write(&requests, format!("{good}garbage\n")).unwrap();
    for _ in 0..3 {
        s.run(Some(&fake.url), &["batch", "status", "batch_1"]);
    }
    let (ok, out) = s.run(Some(&fake.url), &["batch", "collect", "batch_1"]);
    assert!(
        !ok && out.contains("batch_1.requests.jsonl:3: not a batch request"),
        "{out}"
    );
    std::fs::write(&requests, &good).unwrap();

    // An output file that is not JSON is removed, so the next collect downloads it again.
    let output = dir.join("batch_1.output.jsonl");
    let downloaded = std::fs::read_to_string(&output).unwrap();
    std::fs::write(&output, "{broken\n").unwrap();
    let (ok, out) = s.run(Some(&fake.url), &["batch", "collect", "batch_1"]);
    assert!(!ok && out.contains("batch_1.output.jsonl:1: not a JSON line"), "{out}");
    assert!(!output.exists());

    // One custom_id answered twice: that question fails, naming both lines; the other is saved.
    let first = downloaded.lines().next().unwrap();
    std::fs::write(&output, format!("{downloaded}{first}\n")).unwrap();
    let (ok, out) = s.run(Some(&fake.url), &["batch", "collect", "batch_1"]);
    assert!(!ok && out.contains("answered it twice"), "{out}");
    assert_eq!(Store::new(s.proj.join("drafts")).pending().0.len(), 1, "{out}");

    for (toml, says) in [
        ("[batch]\nmax_lines = 0\n", "[batch] max_lines must be at least 1"),
        (
            "[prices.\"m\"]\ninput = nan\noutput = 1.0\ncurrency = \"USD\"\n",
            "[prices.\"m\"] input = NaN is not a price",
        ),
        (
            "[prices.\"m\"]\ninput = -1.0\noutput = 1.0\ncurrency = \"USD\"\n",
            "input = -1 is not a price",
        ),
    ] {
        std::fs::write(s.proj.join("aigcq.toml"), toml).unwrap();
        let (ok, out) = s.run(Some(&fake.url), &["draft", "--dry-run"]);
        assert!(!ok && out.contains(says), "{toml}: {out}");
    }
}

/// Bug 7: a server that sends one byte every 2 s hangs no draft (the whole fetch has a
/// deadline); a huge file is never read whole; folders, pipes, devices and file:// URLs get
/// errors that say what they are.
#[test]
fn references_have_a_deadline_a_size_cap_and_clear_errors() {
    use axum::routing::get;
    let trickle = axum::Router::new().route(
        "/page",
        get(|| async {
            let drip = futures_util::stream::unfold(0u32, |n| async move {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                Some((
                    Ok::<_, std::convert::Infallible>(axum::body::Bytes::from_static(b"x")),
                    n + 1,
                ))
            });
            ([("content-type", "text/plain")], axum::body::Body::from_stream(drip))
        }),
    );
    let page = format!("{}/page", common::serve_in_thread(trickle));
    let fake = common::start_in_thread(|_, _| Reply::stream("一个答案，足够长的一段文字。"));
    let s = sandbox();
    std::fs::write(s.proj.join("aigcq.toml"), "[draft]\nref_timeout = 3\n").unwrap();
    let started = std::time::Instant::now();
    let (ok, out) = s.run(Some(&fake.url), &["draft", "ch.md#2", "--ref", &page]);
    assert!(!ok && out.contains("took longer than 3 s"), "{out}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );

    let huge = s.proj.join("huge.md");
    std::fs::File::create(&huge).unwrap().set_len(2 << 30).unwrap();
    let (ok, out) = s.run(Some(&fake.url), &["draft", "ch.md#2", "--ref", "huge.md"]);
    assert!(!ok && out.contains("larger than 4 MiB"), "{out}");

    let fifo = s.proj.join("pipe.md");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (arg, says) in [
        ("victims", "is a folder"),
        ("pipe.md", "is not a regular file"),
        ("/dev/zero", "is not a regular file"),
        ("file:///etc/hostname", "file:// is not read"),
    ] {
        let (ok, out) = s.run(Some(&fake.url), &["draft", "ch.md#2", "--ref", arg]);
        assert!(!ok && out.contains(says), "{arg}: {out}");
    }
    // The same cap for files under refs/ (which takes regular files only).
    std::fs::create_dir_all(s.proj.join("refs/ch")).unwrap();
    std::fs::rename(&huge, s.proj.join("refs/ch/2-notes.md")).unwrap();
    let (ok, out) = s.run(Some(&fake.url), &["draft", "ch.md#2"]);
    assert!(!ok && out.contains("refs/ch/2-notes.md: is larger than 4 MiB"), "{out}");
    assert_eq!(fake.seen.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// A draft's prompt file that is a pipe does not hang `--feedback`.
#[test]
fn a_prompt_file_that_is_a_pipe_is_refused() {
    let fake = common::start_in_thread(|_, _| Reply::stream("修改后的答案，足够长的一段文字。"));
    let s = sandbox();
    let id = forged_draft(&s, "ch.md");
    let side = s.proj.join(format!("drafts/{id}.prompt.json"));
    std::fs::remove_file(&side).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&side)
            .status()
            .unwrap()
            .success()
    );
    let mut cmd = common::aigcq_at(&s.proj, &fake.url);
    let out = cmd
        .args(["draft", &id, "--feedback", "改短一点"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("not a regular file"),
        "{stderr}"
    );
}

/// Bugs 4 and 9 through the binary: a judge's reasons and an HTTP error body holding escape
/// sequences reach no terminal raw; reasons and a feedback note holding a `+++` line leave
/// the draft readable; overlong reasons are cut and overlong notes refused.
#[test]
fn server_text_is_escaped_and_front_matter_survives_fences() {
    const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J好\n+++\n坏";
    let judge = common::start_in_thread(|_, _| Reply::Whole {
        content: json!({"score": 6, "reasons": HOSTILE}).to_string(),
        finish: "stop",
    });
    let (s, _, store) = sandbox_with_draft();
    let (ok, out) = s.run(Some(&judge.url), &["judge"]);
    assert!(ok, "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    assert!(out.contains("␛]0;pwned"), "shown, escaped: {out}");
    let (ok, out) = s.run(None, &["review", "--list", "--json"]);
    assert!(ok, "{out}");
    let (drafts, errors) = store.pending();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        drafts[0].meta.reasons.as_deref(),
        Some("\u{1b}]0;pwned\u{7}\u{1b}[2J好\n+++\n坏")
    );

    // An error body with escape sequences.
    let failing = common::start_in_thread(|_, _| Reply::status(400, "bad \u{1b}[2J\u{1b}]0;pwned\u{7} request"));
    let (ok, out) = s.run(Some(&failing.url), &["draft", "ch.md#3"]);
    assert!(!ok, "{out}");
    assert!(!out.contains('\u{1b}') && out.contains("bad ␛[2J"), "{out:?}");

    // A feedback note with a `+++` line: the revision is a readable draft.
    let reviser = common::start_in_thread(|_, _| Reply::stream("修改后的答案，足够长的一段文字。"));
    let id = forged_draft(&s, "ch.md");
    let (ok, out) = s.run(Some(&reviser.url), &["draft", &id, "--feedback", "第一行\n+++\n第二行"]);
    assert!(ok, "{out}");
    let (drafts, errors) = store.pending();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        drafts
            .iter()
            .any(|d| d.meta.feedback.as_deref() == Some("第一行\n+++\n第二行"))
    );
    let long = "改".repeat(aigcq::draft::MAX_NOTE + 1);
    let (ok, out) = s.run(Some(&reviser.url), &["draft", &id, "--feedback", &long]);
    assert!(!ok && out.contains("at most 4000"), "{out}");
}

/// A chat stream that never finishes, with no max_tokens set, is cut at the answer ceiling:
/// the draft is saved and marked truncated instead of running until killed.
#[test]
fn an_endless_stream_stops_at_the_answer_ceiling() {
    let fake = common::start_in_thread(|_, _| Reply::Endless);
    let s = sandbox();
    let started = std::time::Instant::now();
    let out = common::aigcq_at(&s.proj, &fake.url)
        .args(["draft", "ch.md#2"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let (drafts, _) = Store::new(s.proj.join("drafts")).pending();
    assert_eq!(drafts.len(), 1, "{stderr}");
    assert!(drafts[0].meta.truncated, "{stderr}");
    assert!(drafts[0].body.len() <= aigcq::llm::client::ANSWER_CEILING + 4096);
}

/// `--min-score` filters `--list` as it filters `--accept-all` (it was silently ignored), and
/// alone it says what it goes with.
#[test]
fn min_score_filters_the_list() {
    let s = sandbox();
    let text = std::fs::read_to_string(s.proj.join("content/ch.md")).unwrap();
    let store = Store::new(s.proj.join("drafts"));
    for (i, score) in [(2, 6), (3, 9)] {
        let mut meta = common::meta_for("ch.md", &text, i);
        meta.score = Some(score);
        store.save(&meta, "一个答案，足够长的一段文字。\n").unwrap();
    }
    let (ok, out) = s.run(None, &["review", "--list", "--json", "--min-score", "8"]);
    assert!(ok, "{out}");
    let start = out.find('[').unwrap();
    let rows: Vec<Value> = serde_json::from_str(&out[start..out.rfind(']').unwrap() + 1]).unwrap();
    assert_eq!(
        rows.iter().map(|r| r["index"].as_u64().unwrap()).collect::<Vec<_>>(),
        [3]
    );
    let (ok, out) = s.run(None, &["review", "--min-score", "8"]);
    assert!(
        !ok && out.contains("--min-score filters --list and --accept-all"),
        "{out}"
    );
}

const LINKED: &str = "# 链接章节\n\n## 1、什么是 VAE？\n\n## 2、VAE 的原论文是哪篇？\n\n见[原论文][vae]，以及 [vae] 本身。\n\n## 3、VAE 的损失由什么组成？\n\n重建损失与 KL 散度[^2]。\n\n[vae]: https://good.example/vae\n\n[^2]: 原作者写的脚注。\n";

/// The reply that takes over question 2's link and question 3's footnote.
const HIJACK: &str =
    "VAE 是变分自编码器，见[这里][vae]与脚注[^2]。\n\n[vae]: https://evil.example/a\n\n[^2]: 伪造的脚注。\n";

/// Each question's section of the chapter rendered by a GFM renderer (comrak), with the
/// footnote numbers (which count in order of first use) left out; and the footnotes.
fn rendered_sections(text: &str) -> (Vec<String>, String) {
    let mut options = comrak::Options::default();
    options.extension.footnotes = true;
    options.extension.table = true;
    let html = comrak::markdown_to_html(text, &options);
    let numbers = regex::Regex::new(r#"(data-footnote-ref>|backref-idx="|Back to reference )\d+"#).unwrap();
    let html = numbers.replace_all(&html, "${1}#").into_owned();
    let (body, notes) = html.split_once("<section class=\"footnotes\"").unwrap_or((&html, ""));
    (body.split("<h2>").map(str::to_owned).collect(), notes.to_owned())
}

/// Bug 10: a reply defining a link reference and a footnote the chapter already uses. Drafted,
/// its definitions get labels of their own and the merge leaves the other questions rendering
/// exactly as before; written into a draft by hand, the merge is refused with the reason.
#[test]
fn an_answers_definitions_never_change_where_another_questions_links_lead() {
    let fake = common::start_in_thread(|_, _| Reply::stream(HIJACK));
    let dir = common::project(LINKED, "");
    let (ok, out) = {
        let o = common::aigcq_at(dir.path(), &fake.url)
            .args(["draft", "ch.md#1"])
            .output()
            .unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    assert!(ok, "{out}");
    // The made-up link is a warning: taken with --force, to see what the merge does with it.
    let o = common::aigcq_at(dir.path(), &fake.url)
        .args(["review", "--accept-all", "--force"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let merged = std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap();
    assert!(merged.contains("evil.example"), "the answer is merged: {merged}");
    let (before, notes_before) = rendered_sections(LINKED);
    let (after, notes_after) = rendered_sections(&merged);
    assert_eq!(before.len(), after.len());
    for i in [2, 3] {
        assert_eq!(before[i], after[i], "question {i} renders as before:\n{merged}");
    }
    assert!(after[2].contains("https://good.example/vae"));
    let original_note = |n: &str| n.split("<li").find(|l| l.contains("原作者写的脚注")).map(str::to_owned);
    assert!(original_note(&notes_before).is_some());
    assert_eq!(original_note(&notes_before), original_note(&notes_after));
    assert!(
        !notes_after
            .split("<li")
            .any(|l| l.contains("伪造的脚注") && l.contains("id=\"fn-2\""))
    );

    // The same reply put into a draft by hand (no clean-up): refused, nothing changes.
    let dir = common::project(LINKED, "");
    Store::new(dir.path().join("drafts"))
        .save(&common::meta_for("ch.md", LINKED, 1), HIJACK)
        .unwrap();
    let o = common::aigcq_at(dir.path(), &fake.url)
        .args(["review", "--accept-all"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains("question 2") && stderr.contains("question 3"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("content/ch.md")).unwrap(),
        LINKED
    );
}

/// A Batch API that takes the upload and then fails to answer the batch's creation with
/// `status`: the batch may or may not exist.
fn failing_creation(status: u16) -> String {
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/v1/files",
            post(|| async { axum::Json(json!({"id": "file-up-1", "object": "file"})) }),
        )
        .route(
            "/v1/batches",
            post(move || async move {
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    axum::Json(json!({"error": {"message": "upstream went away"}})),
                )
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable());
    format!("{}/v1", common::serve_in_thread(app))
}

/// A submission the provider may have turned into a batch without aigcq hearing back stays
/// recorded, and `batch list` shows it with what to do; a refused one leaves nothing.
#[test]
fn an_unanswered_batch_creation_leaves_an_incomplete_record_that_list_shows() {
    let s = sandbox();
    std::fs::write(s.proj.join("aigcq.toml"), "[provider]\nmax_retries = 0\n").unwrap();
    let (ok, out) = s.run(Some(&failing_creation(502)), &["draft", "--batch"]);
    assert!(!ok && out.contains("may have made it from file-up-1"), "{out}");
    let (_, out) = s.run(Some(&failing_creation(502)), &["batch", "list"]);
    assert!(
        out.contains("incomplete submission sub-")
            && out.contains("uploaded as file-up-1")
            && out.contains("2 requests"),
        "{out}"
    );
    let s = sandbox();
    let (ok, out) = s.run(Some(&failing_creation(400)), &["draft", "--batch"]);
    assert!(!ok, "{out}");
    let left: Vec<_> = std::fs::read_dir(s.proj.join("drafts/.batches")).unwrap().collect();
    assert!(left.is_empty(), "a refused batch leaves nothing: {left:?}");
}

/// Issue 21: a verdict and an edit of the same draft at once both land, because both change
/// the draft through `Store::update`, under its chapter's lock.
#[test]
fn a_verdict_and_an_edit_racing_both_land() {
    let s = sandbox();
    let chapter = s.proj.join("content/ch.md");
    let store = Store::new(s.proj.join("drafts"));
    let text = std::fs::read_to_string(&chapter).unwrap();
    for round in 0..10 {
        let path = store
            .save(
                &common::meta_for("ch.md", &text, 2),
                &format!("第 {round} 轮的答案，足够长的一段文字。\n"),
            )
            .unwrap();
        let draft = store.pending().0.into_iter().find(|d| d.path == path).unwrap();
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|t| {
            t.spawn(|| {
                barrier.wait();
                // A slow editor: reads, waits, writes.
                store
                    .update(&chapter, &path, |_, body| {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        body.push_str("作者补充的一句。\n");
                    })
                    .unwrap();
            });
            t.spawn(|| {
                barrier.wait();
                let verdict = aigcq::judge::Verdict {
                    score: 7,
                    reasons: "要点齐全".into(),
                };
                aigcq::judge::record(&store, &chapter, &draft, &verdict, ("judge-model", "judge 0123")).unwrap();
            });
        });
        let (meta, body) = store::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(meta.score, Some(7), "round {round}: the verdict was lost");
        assert!(body.contains("作者补充的一句"), "round {round}: the edit was lost");
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_file(store::prompt_path(&path));
    }
}
