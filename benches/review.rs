//! `cargo bench --bench review`: `aigcq review --accept-all` (release binary, as a child
//! process) merging 100, 1,000 and 10,000 drafts into one 5 MB chapter, and the diff a
//! reviewer sees for one draft in that chapter.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aigcq::chapter::{Chapter, QuestionConfig, Rules};
use aigcq::store::{Draft, Meta, Store};

const TARGET_BYTES: usize = 5 << 20;
const GAPS: usize = 10_000;

/// A chapter of `GAPS` empty questions between answered ones, padded to 5 MiB.
fn chapter() -> String {
    let filler = "扩散模型通过逐步去噪生成图像，**关键**在于噪声调度与采样步数的权衡。\n\n";
    let answered = |i: usize| format!("## {}、已回答的问题{i}？\n\n", 2 * i + 1);
    let open = |i: usize| format!("## {}、待回答的问题{i}？\n\n", 2 * i + 2);
    let fixed: usize = (0..GAPS).map(|i| answered(i).len() + open(i).len()).sum();
    let reps = TARGET_BYTES.saturating_sub(fixed) / filler.len();
    let mut s = String::with_capacity(TARGET_BYTES + 1024);
    s.push_str("# 第一章 基准\n\n");
    for i in 0..GAPS {
        s.push_str(&answered(i));
        s.push_str(&filler.repeat(reps / GAPS + usize::from(i < reps % GAPS)));
        s.push_str(&open(i));
    }
    s
}

fn body(i: usize) -> String {
    format!("**要点 {i}**：这是一个写得足够长、算作真正回答的答案。\n\n1. 第一步\n2. 第二步\n")
}

fn accept_all(text: &str, metas: &[Meta], n: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("content")).unwrap();
    std::fs::write(d.join("aigcq.toml"), "").unwrap();
    std::fs::write(d.join("content/big.md"), text).unwrap();
    let store = Store::new(d.join("drafts"));
    // Spread the drafts over the whole chapter.
    let step = metas.len() / n;
    for (k, m) in metas.iter().step_by(step).take(n).enumerate() {
        store.save(m, &body(k)).unwrap();
    }
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_aigcq"))
        .args(["review", "--accept-all"])
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let t = start.elapsed();
    assert!(status.success());
    assert!(store.pending().0.is_empty());
    let merged = std::fs::read_to_string(d.join("content/big.md")).unwrap();
    assert_eq!(merged.matches("这是一个写得足够长").count(), n);
    t
}

fn main() {
    let text = chapter();
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let metas = common::metas_for("big.md", &text);
    println!(
        "chapter: {:.1} MB, {} questions, {} gaps",
        text.len() as f64 / 1e6,
        2 * GAPS,
        metas.len()
    );

    let mut times = Vec::new();
    for n in [100, 1_000, 10_000] {
        let best = (0..3).map(|_| accept_all(&text, &metas, n)).min().unwrap();
        println!(
            "review --accept-all, {n:>6} drafts: {:>7.3} s (best of 3; target <= 1 s at 1,000)",
            best.as_secs_f64()
        );
        times.push(best);
    }
    println!(
        "scaling: 1,000 / 100 = {:.1}x, 10,000 / 1,000 = {:.1}x the time for 10x the drafts (target <= 12x)",
        times[1].as_secs_f64() / times[0].as_secs_f64(),
        times[2].as_secs_f64() / times[1].as_secs_f64()
    );

    // The diff for one draft in the middle of the chapter: parse, edit, render.
    let m = &metas[metas.len() / 2];
    let draft = Draft {
        path: Path::new("bench.md").into(),
        id: "bench".into(),
        meta: m.clone(),
        body: body(0),
    };
    let mut runs: Vec<Duration> = (0..21)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(aigcq::review::preview(&text, &draft, &rules).unwrap());
            start.elapsed()
        })
        .collect();
    runs.sort();
    let chapter = Chapter::parse(&text, &rules);
    let e = aigcq::review::merge::Merger::new(&chapter)
        .edit(m, &draft.body, &rules, false)
        .unwrap();
    let mut render: Vec<Duration> = (0..21)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(aigcq::review::diff::render(&text, &e, 3));
            start.elapsed()
        })
        .collect();
    render.sort();
    println!(
        "one diff in the 5 MB chapter: {:.2} ms to render, {:.1} ms with parsing the chapter and placing the answer (medians of 21; target <= 50 ms)",
        render[10].as_secs_f64() * 1e3,
        runs[10].as_secs_f64() * 1e3
    );
}
