//! `aigcq review --web` over HTTP, as a browser and an attacker reach it: the token, the
//! Host and Origin checks, where it listens, the rendered and sanitised page, decisions through
//! the engine (accept, undo, bulk), and another review deciding meanwhile.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aigcq::store::Store;
use common::web::Web;
use common::{ledger, meta_for};

/// A project whose chapter has three empty questions, each with a draft: a table and
/// formulas; a hostile one; a plain one.
fn project() -> (tempfile::TempDir, String) {
    let text = common::chapter_with_gaps(3);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    let bodies = [
        "| 模型 | 参数 |\n|---|---|\n| DiT | 675M |\n\n质能方程 $E=mc^2$，以及\n\n$$\\frac{a}{b}$$\n",
        "<script>alert(1)</script>\n\n<img src=x onerror=\"alert(2)\">\n\n[点我](javascript:alert(3))\n\n足够长的正文，算作回答。\n",
        "普通的答案，写得足够长，可以算作真正的回答。\n",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let mut meta = meta_for("ch.md", &text, i + 2);
        meta.score = Some([9, 3, 8][i]);
        store.save(&meta, body).unwrap();
    }
    (dir, text)
}

fn chapter(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("content/ch.md")).unwrap()
}

#[test]
fn no_token_no_page_and_the_token_becomes_a_strict_cookie() {
    let (dir, _) = project();
    let web = Web::start(dir.path());
    for path in ["/", "/review", "/queue", "/static/app.js"] {
        let r = web.request("GET", path, &[], "");
        assert_eq!(r.status, 401, "{path}: {}", r.body);
    }
    assert_eq!(web.request("GET", "/?token=wrong", &[], "").status, 403);
    let r = web.request("GET", &format!("/review?token={}", web.token), &[], "");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/review"), "the token leaves the address");
    let cookie = r.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let page = web.get("/review");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!page.body.contains(&web.token), "the token never appears in a page");
    web.stop();
}

#[test]
fn another_host_or_origin_changes_nothing() {
    let (dir, text) = project();
    let web = Web::start(dir.path());
    let cookie = web.cookie();
    // DNS rebinding: a page of another name that resolves to 127.0.0.1.
    let r = web.request(
        "GET",
        "/review",
        &[("Host", "evil.example:80"), ("Cookie", &cookie)],
        "",
    );
    assert_eq!(r.status, 403);
    let form = "op=accept";
    let post = |headers: &[(&str, &str)]| web.request("POST", "/op", headers, form).status;
    let kind = ("Content-Type", "application/x-www-form-urlencoded");
    assert_eq!(post(&[kind]), 401, "no cookie");
    assert_eq!(post(&[kind, ("Cookie", &cookie)]), 403, "no Origin");
    assert_eq!(
        post(&[kind, ("Cookie", &cookie), ("Origin", "http://evil.example")]),
        403
    );
    assert_eq!(chapter(dir.path()), text, "nothing merged");
    assert!(ledger(dir.path()).is_empty());
    // From the page itself it merges.
    let r = web.post("/op", form);
    assert_eq!(r.status, 303);
    assert_ne!(chapter(dir.path()), text);
    assert_eq!(ledger(dir.path()).len(), 1);
    web.stop();
}

#[test]
fn it_listens_on_the_loopback_only() {
    let (dir, _) = project();
    let web = Web::start(dir.path());
    // The machine's own address on its network, when it has one.
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    if probe.connect("10.255.255.255:9").is_ok() {
        let ip = probe.local_addr().unwrap().ip();
        if !ip.is_loopback() && !ip.is_unspecified() {
            let reached = TcpStream::connect_timeout(&(ip, web.port).into(), Duration::from_secs(2));
            assert!(reached.is_err(), "reached the page at {ip}");
        }
    }
    let home = web.get("/");
    assert_eq!(home.status, 200, "{}", home.body);
    web.stop();
}

#[test]
fn answers_render_with_tables_and_mathml_and_hostile_html_is_inert() {
    let (dir, _) = project();
    let web = Web::start(dir.path());
    let page = web.get("/review").body;
    assert!(page.contains("<table>") && page.contains("<td>DiT</td>"), "{page}");
    assert!(page.contains("<math") && page.contains("<mfrac>"), "{page}");
    assert!(page.contains("score 9/10"));
    // The diff of the chapter, line numbers and all.
    let diff = web.get("/review?view=diff").body;
    assert!(
        diff.contains("class=\"diff\"") && diff.contains("class=\"ins\""),
        "{diff}"
    );
    // The hostile draft, the next question.
    assert_eq!(web.post("/op", "op=skip").status, 303);
    let page = web.get("/review").body;
    assert!(page.contains("足够长的正文"), "{page}");
    let lower = page.to_lowercase();
    assert!(!lower.contains("<script>alert"), "{page}");
    assert!(!lower.contains("onerror") && !lower.contains("javascript:"), "{page}");
    // Images resolve under the content folder, nothing outside it.
    std::fs::write(dir.path().join("content/a.png"), b"\x89PNG\r\n").unwrap();
    let image = web.get("/asset/a.png");
    assert_eq!((image.status, image.header("content-type")), (200, Some("image/png")));
    assert_eq!(web.get("/asset/..%2Faigcq.toml").status, 404, "not an image");
    assert_ne!(web.get("/asset/..%2F..%2Fetc%2Fx.png").status, 200);
    web.stop();
}

#[test]
fn accept_then_undo_leaves_the_chapter_byte_identical() {
    let (dir, text) = project();
    let web = Web::start(dir.path());
    assert_eq!(web.post("/op", "op=accept").status, 303);
    let merged = chapter(dir.path());
    assert!(merged.contains("| DiT | 675M |"), "{merged}");
    assert!(web.get("/review").body.contains("merged candidate 1 of 1"));
    assert_eq!(web.post("/op", "op=undo").status, 303);
    assert_eq!(chapter(dir.path()), text);
    let err = web.stop();
    assert!(err.contains("Ctrl-C ends the review"), "{err}");
    // The terminal review's summary: the accept taken back, two questions shown and left.
    assert!(
        err.contains("accepted 0, rejected 0, skipped 2, not seen 1; files changed: none"),
        "{err}"
    );
}

#[test]
fn bulk_accept_of_a_filtered_set_merges_exactly_that_set() {
    let (dir, _) = project();
    let web = Web::start(dir.path());
    let queue = web.get("/queue?min_score=8&confirm=accept").body;
    assert!(queue.contains("Accept 2 draft(s)?"), "{queue}");
    let ids: Vec<String> = queue
        .split("name=\"id\" value=\"")
        .skip(1)
        .map(|s| unescape(s.split('"').next().unwrap()))
        .collect();
    assert_eq!(ids.len(), 2);
    let form: String = std::iter::once("action=accept&back=min_score%3D8".to_owned())
        .chain(ids.iter().map(|id| format!("id={}", percent(id))))
        .collect::<Vec<_>>()
        .join("&");
    let r = web.post("/bulk", &form);
    assert_eq!(r.status, 303);
    let now = chapter(dir.path());
    assert!(
        now.contains("| DiT | 675M |") && now.contains("普通的答案"),
        "{now}\n{form}\n{}",
        web.get("/queue").body
    );
    assert!(!now.contains("足够长的正文"), "the score-3 draft stays pending");
    let decided: Vec<String> = ledger(dir.path())
        .iter()
        .map(|e| e["draft"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(decided.len(), 2);
    assert!(ids.iter().all(|id| decided.contains(id)));
    web.stop();
}

#[test]
fn a_decision_made_elsewhere_is_shown_and_never_made_twice() {
    let (dir, _) = project();
    let web = Web::start(dir.path());
    assert!(web.get("/review").body.contains("| DiT") || web.get("/review").body.contains("<td>DiT</td>"));
    let id = Store::new(dir.path().join("drafts")).pending().0[0].id.clone();
    let out = Command::new(assert_cmd::cargo::cargo_bin("aigcq"))
        .args(["review", "--accept", &id])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = web.get("/review").body;
    assert!(page.contains("decided elsewhere"), "{page}");
    assert!(!page.contains("<td>DiT</td>"), "the page moved on");
    // An accept now takes the next question's draft, not the decided one again.
    assert_eq!(web.post("/op", "op=accept").status, 303);
    let entries = ledger(dir.path());
    assert_eq!(entries.len(), 2);
    assert_ne!(entries[0]["draft"], entries[1]["draft"]);
    web.stop();
}

/// An attribute's text as a browser reads it.
fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn feedback_shows_the_model_writing_then_the_revision_beside_the_one_it_revises() {
    let fake = common::start_in_thread(|n, _| match n {
        0 => common::Reply::stream("第一版答案：写得足够长、可以算作真正回答的内容。"),
        _ => common::Reply::Thinking(
            Duration::from_millis(1500),
            Box::new(common::Reply::stream(
                "| 版本 | 创新 |\n| --- | --- |\n| 2.0 | 双语 |\n\n第二版答案，用表格对比。",
            )),
        ),
    });
    // A draft made by aigcq itself keeps the conversation a revision continues.
    let dir = common::project(&common::chapter_with_gaps(1), "");
    let draft = Command::new(env!("CARGO_BIN_EXE_aigcq"))
        .current_dir(dir.path())
        .args(["draft", "--model", "fake-model", "--base-url", &fake.url])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(draft.status.success(), "{}", String::from_utf8_lossy(&draft.stderr));
    let web = Web::start_with(
        dir.path(),
        &[("OPENAI_BASE_URL", &fake.url), ("AIGCQ_MODEL", "fake-model")],
    );
    assert!(!web.get("/progress").body.contains("\"active\":true"));
    std::thread::scope(|s| {
        let asked = s.spawn(|| web.post("/op", "op=feedback&note=%E7%94%A8%E8%A1%A8%E6%A0%BC"));
        let started = std::time::Instant::now();
        loop {
            let p = web.get("/progress").body;
            if p.contains("\"active\":true") {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "never writing: {p}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let r = asked.join().unwrap();
        assert_eq!(
            (r.status, r.header("location")),
            (303, Some("/review?compare=1")),
            "{}",
            web.get("/review").body
        );
    });
    let page = web.get("/review?compare=1").body;
    assert!(
        page.contains("candidate 2 of 2") && page.contains("<td>双语</td>"),
        "{page}"
    );
    assert!(page.contains("changes from the candidate it revises"), "{page}");
    assert!(page.contains("the revision of candidate 1 is candidate 2"), "{page}");
    // Done; what streamed in is what the page showed last.
    let last = web.get("/progress").body;
    assert!(
        last.contains("\"active\":false") && last.contains("| 2.0 | 双语 |"),
        "{last}"
    );
    // The note reached the model with the draft it revises.
    let seen = fake.seen.bodies.lock().unwrap();
    assert!(seen.last().unwrap().to_string().contains("用表格"), "{seen:?}");
    // The key went to the model, as a header, and nowhere else.
    assert_eq!(
        fake.seen.auth.lock().unwrap().last().unwrap().as_deref(),
        Some(&*format!("Bearer {}", common::web::KEY))
    );
    web.stop();
}

#[test]
fn side_by_side_accept_takes_the_candidate_chosen_and_rejects_its_siblings() {
    let text = common::chapter_with_gaps(1);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for c in 1..=3u32 {
        let mut meta = meta_for("ch.md", &text, 2);
        (meta.candidate, meta.candidates) = (c, 3);
        store
            .save(&meta, &format!("候选 {c} 的答案，写得足够长，可以算作真正的回答。\n"))
            .unwrap();
    }
    let web = Web::start(dir.path());
    let page = web.get("/review?compare=1").body;
    assert_eq!(page.matches("name=\"k\"").count(), 3, "{page}");
    assert!(page.contains("diff against candidate 1"));
    assert_eq!(web.post("/op", "op=accept&k=2").status, 303);
    let now = chapter(dir.path());
    assert!(
        now.contains("候选 2 的答案") && !now.contains("候选 1") && !now.contains("候选 3"),
        "{now}"
    );
    let decided: Vec<(String, String)> = ledger(dir.path())
        .iter()
        .map(|e| {
            (
                e["draft"].as_str().unwrap().to_owned(),
                e["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        decided.iter().filter(|(_, d)| d == "rejected").count(),
        2,
        "{decided:?}"
    );
    assert_eq!(
        decided.iter().filter(|(_, d)| d == "accepted").count(),
        1,
        "{decided:?}"
    );
    assert!(store.pending().0.is_empty());
    web.stop();
}

#[test]
fn the_queue_filters_by_score_band_and_unscored() {
    let (dir, _) = project();
    let store = Store::new(dir.path().join("drafts"));
    let text = chapter(dir.path());
    let mut meta = meta_for("ch.md", &text, 2);
    (meta.candidate, meta.candidates) = (2, 2);
    store
        .save(&meta, "未评分的候选，写得足够长，可以算作真正的回答。\n")
        .unwrap();
    let web = Web::start(dir.path());
    let rows = |q: &str| web.get(&format!("/queue?{q}")).body.matches("data-draft=").count();
    assert_eq!(rows(""), 4);
    assert_eq!(rows("max_score=4"), 1, "the score-3 draft");
    assert_eq!(rows("min_score=5&max_score=8"), 1, "the score-8 draft");
    assert_eq!(rows("min_score=8"), 2);
    assert_eq!(rows("unscored=1"), 1);
    assert!(
        web.get("/").body.contains("unscored=1"),
        "the dashboard's band links to its queue"
    );
    web.stop();
}

#[test]
fn j_goes_to_the_next_question_left_past_decided_ones() {
    let (dir, _) = project();
    let web = Web::start(dir.path());
    // Decide question 3 from the queue (its draft is the second), then go on from question 2.
    let id = Store::new(dir.path().join("drafts")).pending().0[1].id.clone();
    assert_eq!(
        web.post("/bulk", &format!("action=reject&id={}", id.replace('/', "%2F")))
            .status,
        303
    );
    assert_eq!(web.post("/op", "op=forward").status, 303);
    let page = web.get("/review").body;
    assert!(page.contains("#4 (empty)"), "past the decided question 3: {page}");
    assert_eq!(web.post("/op", "op=forward").status, 303);
    assert!(web.get("/review").body.contains("the last question left"));
    web.stop();
}

#[test]
fn keys_past_the_last_question_say_so_and_the_page_lives_on() {
    let (dir, _) = project();
    let web = Web::start(dir.path());
    for _ in 0..3 {
        assert_eq!(web.post("/op", "op=reject").status, 303);
    }
    assert!(web.get("/review").body.contains("Nothing left to review"));
    for op in [
        "op=feedback&note=x",
        "op=accept",
        "op=accept&k=2",
        "op=edit&body=x",
        "op=forward",
        "op=jump&n=1",
    ] {
        assert_eq!(web.post("/op", op).status, 303, "{op}");
    }
    let page = web.get("/review").body;
    assert!(page.contains("Nothing left to review"), "{page}");
    assert_eq!(web.post("/op", "op=undo").status, 303);
    assert!(
        web.get("/review").body.contains("candidate 1 of 1"),
        "undo brings the last one back"
    );
    web.stop();
}

#[test]
fn with_commit_a_bulk_accept_from_the_page_is_committed() {
    let (dir, _) = project();
    std::fs::write(dir.path().join("aigcq.toml"), "[review]\ncommit = true\n").unwrap();
    let git = |args: &[&str]| common::git(dir.path(), args);
    git(&["init", "-q"]);
    git(&["add", "content"]);
    git(&["commit", "-q", "-m", "the book"]);
    let web = Web::start_with(dir.path(), &common::GIT_IDENTITY);
    let ids: Vec<String> = Store::new(dir.path().join("drafts"))
        .pending()
        .0
        .iter()
        .map(|d| d.id.clone())
        .collect();
    let form = format!(
        "action=accept&back=&id={}&id={}",
        ids[0].replace('/', "%2F"),
        ids[2].replace('/', "%2F")
    );
    assert_eq!(web.post("/bulk", &form).status, 303);
    let page = web.get("/queue").body;
    assert!(page.contains("merged 2 and rejected 0"), "{page}");
    let log = git(&["log", "-1", "--format=%B"]);
    assert!(log.contains("answer questions 2, 4 of ch.md"), "{log}");
    web.stop();
}
