//! `cargo bench --bench web`: the review page (`aigcq review --web`, release binary, as a
//! child process) over 1,000 pending drafts of one chapter, each with a table and formulas:
//! the time for the queue of all 1,000, a question view, its diff and the dashboard, from the
//! request to the last byte (medians of 21).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use aigcq::store::Store;
use common::web::Web;

const DRAFTS: usize = 1_000;

fn body(i: usize) -> String {
    format!(
        "**要点 {i}**：扩散模型的采样步数与质量的权衡。\n\n| 步数 | FID |\n|---|---|\n| 50 | 3.2 |\n| 250 | 2.9 |\n\n损失为 $L = \\mathbb{{E}}\\|\\epsilon - \\epsilon_\\theta(x_t, t)\\|^2$，且\n\n$$x_{{t-1}} = \\frac{{1}}{{\\sqrt{{\\alpha_t}}}}(x_t - \\beta_t \\epsilon)$$\n\n1. 第一步\n2. 第二步\n"
    )
}

fn median(web: &Web, path: &str) -> Duration {
    let mut runs: Vec<Duration> = (0..21)
        .map(|_| {
            let start = Instant::now();
            let r = web.get(path);
            let t = start.elapsed();
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            t
        })
        .collect();
    runs.sort();
    runs[10]
}

fn main() {
    let text = common::chapter_with_gaps(DRAFTS);
    let dir = common::project(&text, "");
    let store = Store::new(dir.path().join("drafts"));
    for (i, meta) in common::metas_for("ch.md", &text).into_iter().enumerate() {
        let mut meta = meta;
        meta.score = Some((i % 10) as u8 + 1);
        store.save(&meta, &body(i)).unwrap();
    }
    let web = Web::start(dir.path());
    let queue = median(&web, "/queue");
    assert_eq!(web.get("/queue").body.matches("data-draft=").count(), DRAFTS);
    let question = median(&web, "/review");
    let diff = median(&web, "/review?view=diff");
    let home = median(&web, "/");
    println!(
        "review page, {DRAFTS} pending drafts of one chapter ({:.0} KB):",
        text.len() as f64 / 1e3
    );
    println!(
        "  queue of all {DRAFTS}:      {:>7.1} ms (target <= 200 ms)",
        queue.as_secs_f64() * 1e3
    );
    println!(
        "  question view:          {:>7.1} ms (target <= 50 ms)",
        question.as_secs_f64() * 1e3
    );
    println!("  question view, diff:    {:>7.1} ms", diff.as_secs_f64() * 1e3);
    println!("  dashboard:              {:>7.1} ms", home.as_secs_f64() * 1e3);
    web.stop();
}
