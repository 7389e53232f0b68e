//! `aigcq review --web` in a real browser: headless Chromium driven over WebDriver
//! (chromedriver, Debian's `chromium-driver`). The page is used by its keys, as an author uses
//! it. Without chromedriver the test says so and passes, unless AIGCQ_REQUIRE_BROWSER is set
//! (`.ci/run` sets it and installs the browser).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aigcq::store::Store;
use common::web::Web;
use common::{ledger, meta_for};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// chromedriver on a free port, stopped when dropped.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn driver() -> Option<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("AIGCQ_REQUIRE_BROWSER").is_none(),
                "chromedriver cannot start: {e}"
            );
            eprintln!("skipped: no chromedriver ({e}); apt-get install chromium chromium-driver");
            return None;
        }
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Driver(child, port))
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"] }),
    );
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .unwrap()
}

/// Waits until `ok` holds of the chapter (the page answers a key with a new page).
fn wait_for(dir: &Path, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(dir.join("content/ch.md")).unwrap();
        if ok(&text) {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the chapter never changed:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Presses `key` on the page and waits for the page it leads to (each key used here posts a
/// form or opens a link): the old document's mark is gone and the new one has loaded.
async fn press(c: &Client, key: &str) {
    c.execute("window.aigcqOld = true;", vec![]).await.unwrap();
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let loaded = c
            .execute(
                "return window.aigcqOld === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if loaded.is_ok_and(|v| v == json!(true)) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no new page after {key}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn review_in_the_browser_by_its_keys() {
    let Some(driver) = driver() else { return };
    let text = common::chapter_with_gaps(4);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    let bodies = [
        "| 模型 | 参数量 |\n|---|---|\n| DiT-XL/2 | 675M |\n\n质能方程 $E=mc^2$ 说明了能量与质量的关系。\n",
        "<script>window.pwned = 1</script>\n\n<img src=x onerror=\"window.pwned = 2\">\n\n[点我](javascript:window.pwned=3)\n\n这段答案足够长，算作真正的回答。\n",
        "第三题的答案，写得足够长，可以算作真正的回答。\n",
        "第四题的答案，写得足够长，可以算作真正的回答。\n",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let mut meta = meta_for("ch.md", &text, i + 2);
        meta.score = Some([9, 2, 8, 8][i]);
        store.save(&meta, body).unwrap();
    }
    let web = Web::start(dir.path());
    let c = browser(&driver).await;
    c.goto(&format!("http://127.0.0.1:{}/?token={}", web.port, web.token))
        .await
        .unwrap();
    let shots = std::env::var_os("AIGCQ_SCREENSHOTS").map(std::path::PathBuf::from);
    if let Some(dir) = &shots {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("review-dashboard.png"), c.screenshot().await.unwrap()).unwrap();
    }

    // v: the question view, the first draft rendered.
    press(&c, "v").await;
    let table = c.find(Locator::Css("article .answer table td")).await.unwrap();
    assert_eq!(table.text().await.unwrap(), "DiT-XL/2");
    let math = c.find(Locator::Css("article .answer math")).await.unwrap();
    assert!(math.html(false).await.unwrap().contains("<mi>E</mi>"));
    if let Some(dir) = &shots {
        std::fs::write(dir.join("review-question.png"), c.screenshot().await.unwrap()).unwrap();
    }

    // a: merged, with its ledger line; u: the chapter as it was.
    press(&c, "a").await;
    wait_for(dir.path(), |t| t.contains("| DiT-XL/2 | 675M |"));
    assert_eq!(ledger(dir.path()).len(), 1);
    press(&c, "u").await;
    let back = wait_for(dir.path(), |t| !t.contains("DiT-XL/2"));
    assert_eq!(back, text, "byte-identical after undo");

    // The hostile draft: shown, its link clicked, and nothing of it ran.
    press(&c, "j").await;
    let body = c
        .find(Locator::Css("article .answer"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("这段答案足够长"), "{body}");
    if let Ok(link) = c.find(Locator::LinkText("点我")).await {
        let _ = link.click().await;
    }
    let pwned = c.execute("return window.pwned === undefined;", vec![]).await.unwrap();
    assert_eq!(pwned, json!(true), "a script of the draft ran");

    // The queue: score 8 and up, no warning; accept exactly that set.
    c.goto(&format!(
        "http://127.0.0.1:{}/queue?min_score=8&warnings=none",
        web.port
    ))
    .await
    .unwrap();
    c.find(Locator::Css("button[name=confirm][value=accept]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("confirm-bulk"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let merged = wait_for(dir.path(), |t| t.contains("第四题的答案"));
    for (i, body) in bodies.iter().enumerate() {
        let first = body.lines().next().unwrap();
        let want = [9, 2, 8, 8][i] >= 8;
        assert_eq!(merged.contains(first), want, "draft {} ({first})", i + 2);
    }
    // The first accept (undone since) and the three of the bulk decision.
    assert_eq!(
        ledger(dir.path())
            .iter()
            .filter(|e| e["decision"] == "accepted")
            .count(),
        1 + 3
    );
    c.close().await.unwrap();
    web.stop();
}
