//! References (issue 12): from `refs/`, from `--ref` and from URLs listed in a reference
//! file, all reaching the request; HTML pages from a local server converted and cached; the
//! budget; an unreachable or failing URL fails its question only.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use axum::response::Html;
use common::Reply;

/// A web server on a thread of its own: `/report.html` and `/other.html` (counted), `/gone`
/// answers 404.
fn pages() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let report = {
        let h = h.clone();
        move || async move {
            h.fetch_add(1, Ordering::SeqCst);
            Html(
                "<html><head><style>p{}</style></head><body><h1>Seedream 4.0</h1><p>字节跳动 Seed 团队的<b>图像生成</b>模型。</p></body></html>",
            )
        }
    };
    let other = move || async move {
        h.fetch_add(1, Ordering::SeqCst);
        Html("<p>HiDream-I1 是一个稀疏 DiT 模型。</p>")
    };
    let app = axum::Router::new()
        .route("/report.html", axum::routing::get(report))
        .route("/other.html", axum::routing::get(other))
        .route("/gone", axum::routing::get(|| async { (StatusCode::NOT_FOUND, "no") }))
        // `.invalid` never resolves: a redirect that were followed would go nowhere.
        .route(
            "/moved",
            axum::routing::get(|| async { axum::response::Redirect::temporary("http://aigcq-test.invalid/x") }),
        );
    (common::serve_in_thread(app), hits)
}

/// The user message of the request that asked question `index`.
fn prompt_for(fake: &common::Fake, index: usize) -> String {
    let bodies = fake.seen.bodies.lock().unwrap();
    bodies
        .iter()
        .map(|b| b["messages"][1]["content"].as_str().unwrap().to_owned())
        .find(|u| u.contains(&format!("请回答第 {index} 题")))
        .unwrap_or_else(|| panic!("no request for question {index}"))
}

fn draft_of(dir: &Path, index: usize) -> aigcq::store::Draft {
    let (pending, _) = aigcq::store::Store::new(dir.join("drafts")).pending();
    pending.into_iter().find(|d| d.meta.index == index).expect("a draft")
}

#[test]
fn references_from_refs_ref_and_listed_urls_reach_the_prompt_and_the_front_matter() {
    let (site, hits) = pages();
    let fake = common::start_in_thread(|_, _| Reply::stream("一个足够长的答案，依据参考资料写成，这里只是测试。"));
    let dir = common::project(&common::chapter_with_gaps(3), "");
    let d = dir.path();
    std::fs::create_dir_all(d.join("refs/ch")).unwrap();
    std::fs::write(d.join("refs/ch/_chapter.txt"), "本章讲图像生成模型。\n").unwrap();
    std::fs::write(
        d.join("refs/ch/2-notes.md"),
        format!("第二题的笔记：Seedream 是字节跳动的模型。\n\n- {site}/report.html\n"),
    )
    .unwrap();
    std::fs::write(d.join("refs/ch/3.md"), format!("{site}/gone\n")).unwrap();
    std::fs::write(d.join("extra.md"), "命令行给的资料。\n").unwrap();

    let out = common::aigcq_at(d, &fake.url)
        .args(["draft", "--ref", "extra.md", "--ref"])
        .arg(format!("{site}/other.html"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Question 3's page is gone: that question fails, naming the URL and the status; 2 and 4
    // are drafted.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{site}/gone")) && stderr.contains("404"),
        "{stderr}"
    );
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 2, "{stderr}");

    let two = prompt_for(&fake, 2);
    for text in [
        "本章讲图像生成模型。",
        "第二题的笔记：Seedream 是字节跳动的模型。",
        "Seedream 4.0",
        "字节跳动 Seed 团队的",
        "命令行给的资料。",
        "HiDream-I1 是一个稀疏 DiT 模型。",
    ] {
        assert!(two.contains(text), "{text:?} not in\n{two}");
    }
    assert!(!two.contains("<p>") && !two.contains("p{}"), "HTML converted:\n{two}");
    assert!(!two.contains("/report.html\n"), "the URL line is fetched, not quoted");
    let four = prompt_for(&fake, 4);
    assert!(four.contains("本章讲图像生成模型。") && !four.contains("第二题的笔记"));

    let sources: Vec<String> = draft_of(d, 2)
        .meta
        .references
        .iter()
        .map(|r| r.source.clone())
        .collect();
    assert_eq!(
        sources,
        [
            "refs/ch/_chapter.txt".to_owned(),
            "refs/ch/2-notes.md".to_owned(),
            format!("{site}/report.html"),
            "extra.md".to_owned(),
            format!("{site}/other.html"),
        ]
    );
    assert!(
        draft_of(d, 2)
            .meta
            .references
            .iter()
            .all(|r| r.hash.len() == 12 && r.chars > 0)
    );
    let file = std::fs::read_to_string(draft_of(d, 2).path).unwrap();
    assert!(file.contains("[[references]]"), "{file}");

    // Fetched once: a second run reads the pages from the cache.
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let again = common::aigcq_at(d, &fake.url)
        .args(["draft", "--force", "ch.md#2", "--ref"])
        .arg(format!("{site}/other.html"))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(hits.load(Ordering::SeqCst), 2, "served from the cache");
}

#[test]
fn the_budget_holds_and_an_unreachable_url_names_itself() {
    let fake = common::start_in_thread(|_, _| Reply::stream("一个足够长的答案，依据参考资料写成，这里只是测试。"));
    let dir = common::project(&common::chapter_with_gaps(2), "[draft]\nref_chars = 300\n");
    let d = dir.path();
    std::fs::create_dir_all(d.join("refs/ch")).unwrap();
    let para = |c: &str| format!("{}\n\n", c.repeat(100));
    std::fs::write(d.join("refs/ch/2.md"), para("甲").repeat(5)).unwrap();
    std::fs::write(d.join("refs/ch/2-b.md"), para("乙").repeat(5)).unwrap();
    // Nothing listens on port 9 of this machine.
    std::fs::write(d.join("refs/ch/3.md"), "http://127.0.0.1:9/report\n").unwrap();
    let out = common::aigcq_at(d, &fake.url).arg("draft").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("http://127.0.0.1:9/report"), "{stderr}");
    let refs = draft_of(d, 2).meta.references;
    let used: usize = refs.iter().map(|r| r.chars).sum();
    assert!(used <= 300, "{used}");
    // 150 each: one paragraph of 100 each, cut at the paragraph end.
    assert_eq!(
        refs.iter().map(|r| (r.chars, r.truncated)).collect::<Vec<_>>(),
        [(100, true), (100, true)]
    );
    let two = prompt_for(&fake, 2);
    assert!(two.contains(&"甲".repeat(100)) && !two.contains(&"甲".repeat(101)));
    assert!(two.contains("资料截断"), "{two}");
}

#[test]
fn a_redirect_to_plain_http_elsewhere_is_refused() {
    let (site, _) = pages();
    let fake = common::start_in_thread(|_, _| Reply::stream("一个足够长的答案，依据参考资料写成，这里只是测试。"));
    let dir = common::project(&common::chapter_with_gaps(1), "");
    let out = common::aigcq_at(dir.path(), &fake.url)
        .args(["draft", "--ref"])
        .arg(format!("{site}/moved"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("redirected to plain http://"), "{stderr}");
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 0);
}

#[test]
fn pdf_references_in_english_and_chinese_reach_the_prompt_as_text_and_a_scan_is_refused() {
    let paper = common::pdf::text(&[
        "Flow matching regresses a velocity field (Lipman et al., 2023).",
        "流匹配直接回归速度场，训练比扩散模型更稳定。",
        "整流（Rectified Flow）让轨迹更直。",
    ]);
    let served = paper.clone();
    let site = common::serve_in_thread(axum::Router::new().route(
        "/paper",
        axum::routing::get(move || async move { ([("content-type", "application/pdf")], served) }),
    ));
    let fake = common::start_in_thread(|_, _| Reply::stream("一个足够长的答案，依据参考资料写成，这里只是测试。"));
    let dir = common::project(&common::chapter_with_gaps(2), "");
    let d = dir.path();
    std::fs::create_dir_all(d.join("refs/ch")).unwrap();
    std::fs::write(d.join("refs/ch/2-paper.pdf"), &paper).unwrap();
    std::fs::write(d.join("refs/ch/3-scan.pdf"), common::pdf::scan()).unwrap();
    std::fs::write(
        d.join("notes.pdf"),
        common::pdf::text(&["命令行给的 PDF：DiT 用 Transformer 代替 U-Net。"]),
    )
    .unwrap();

    let out = common::aigcq_at(d, &fake.url)
        .args(["draft", "--ref", "notes.pdf", "--ref"])
        .arg(format!("{site}/paper"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The scan fails its own question, saying why; question 2 is drafted.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refs/ch/3-scan.pdf") && stderr.contains("no text to extract"),
        "{stderr}"
    );
    let two = prompt_for(&fake, 2);
    for text in [
        "Flow matching regresses a velocity field (Lipman et al., 2023).",
        "流匹配直接回归速度场，训练比扩散模型更稳定。",
        "整流（Rectified Flow）让轨迹更直。",
        "命令行给的 PDF：DiT 用 Transformer 代替 U-Net。",
    ] {
        assert!(two.contains(text), "{text:?} not in\n{two}");
    }
    assert!(!two.contains("%PDF") && !two.contains("endobj"), "{two}");
    let sources: Vec<String> = draft_of(d, 2)
        .meta
        .references
        .iter()
        .map(|r| r.source.clone())
        .collect();
    assert_eq!(
        sources,
        [
            "refs/ch/2-paper.pdf".to_owned(),
            "notes.pdf".to_owned(),
            format!("{site}/paper")
        ]
    );
}

#[test]
fn a_forged_cache_folder_never_makes_a_fetch_write_or_read_outside_the_project() {
    let (site, hits) = pages();
    let fake = common::start_in_thread(|_, _| Reply::stream("一个足够长的答案，依据参考资料写成，这里只是测试。"));
    let dir = common::project(&common::chapter_with_gaps(1), "");
    let d = dir.path();
    let outside = tempfile::tempdir().unwrap();
    // What a cached page of that URL would be called, planted outside: never read.
    std::fs::create_dir_all(outside.path().join("refs")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.join("drafts/.cache")).unwrap();
    let out = common::aigcq_at(d, &fake.url)
        .args(["draft", "--ref"])
        .arg(format!("{site}/other.html"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("leaves the drafts folder") || stderr.contains("cache folder"),
        "{stderr}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1, "fetched, not read from outside");
    let written: Vec<_> = walkdir::WalkDir::new(outside.path())
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .collect();
    assert!(written.is_empty(), "{written:?}");
}

#[test]
fn an_oversized_file_in_the_reference_cache_is_not_read_and_the_page_is_fetched_again() {
    let (site, hits) = pages();
    let fake = common::start_in_thread(|_, _| Reply::stream("一个足够长的答案，依据参考资料写成，这里只是测试。"));
    let dir = common::project(&common::chapter_with_gaps(1), "");
    let d = dir.path();
    let url = format!("{site}/other.html");
    let cache = d.join("drafts/.cache/refs");
    std::fs::create_dir_all(&cache).unwrap();
    let name = format!("{}.txt", aigcq::identity::short_hash(&[url.as_bytes()], 16));
    std::fs::write(cache.join(&name), "伪造".repeat(10 << 20)).unwrap();
    let out = common::aigcq_at(d, &fake.url)
        .args(["draft", "--ref", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "fetched, the forged cache file not read"
    );
    assert!(!prompt_for(&fake, 2).contains("伪造"));
}
