//! `cargo bench --bench draft`: the drafting client as a user runs it (the release binary as a
//! child process).
//!
//! 1. Against the in-process fake that admits each request at once (status and headers, as a
//!    streaming server does) and streams an answer of about 950 characters in 242 SSE events
//!    after a fixed 200 ms: 64 gaps at concurrency 8 (ideal 64 / 8 × 0.2 s =
//!    1.6 s), with the child's CPU time per request, once with the events sent in one write
//!    (the fake costs nothing; the client still parses every event) and once with one write
//!    per event (the fake's own work, on the same two cores, is then in the figure); then 100
//!    and 1,000 gaps for peak memory.
//! 2. One answer arriving as a single SSE line of 10 and 20 MB, sent in 16 KB pieces: the
//!    client's CPU time must grow linearly with the line (it grew quadratically before).
//! 3. A fake that admits 4 requests at once and answers 429 beyond: 64 gaps at concurrency 16,
//!    the time against 4 in flight and the share of 429s; a fake prompt cache: the share of
//!    prompt tokens cached over 10 gaps of a real chapter.
//! 4. Against the real local server (`scripts/local-llm`, llama.cpp with SmolLM2-135M,
//!    n_parallel 4): completion tokens per second through aigcq against the same requests sent
//!    directly, four at a time. `ignore_eos` makes every answer exactly `TOKENS` long.
//!
//! `cargo bench --bench draft -- NAME` runs only the items whose name contains NAME
//! (`concurrency`, `rate_limited`, `prompt_cache`, `batch_scale`, `long_lines`, `real_server`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Reply;

const TOKENS: u32 = 96;

struct Measure {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
    stderr: String,
}

/// Runs `cmd` to the end and reads its own resource usage with wait4.
#[allow(clippy::zombie_processes)] // reaped by wait4, which std's wait cannot replace
fn measure(cmd: &mut Command) -> Measure {
    let stderr_file = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(stderr_file.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 reaps our own child and fills the struct it is given.
    let usage = unsafe {
        assert_eq!(
            libc::wait4(child.id() as i32, &mut status, 0, usage.as_mut_ptr()),
            child.id() as i32
        );
        usage.assume_init()
    };
    let wall = start.elapsed();
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    let stderr = std::fs::read_to_string(stderr_file.path()).unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "aigcq failed: {stderr}"
    );
    Measure {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
        stderr,
    }
}

fn draft(url: &str, gaps: usize, concurrency: usize, toml: &str, extra: &[&str]) -> Measure {
    let dir = common::project(&common::chapter_with_gaps(gaps), toml);
    draft_in(dir.path(), url, gaps, concurrency, extra)
}

/// [`draft`] in the project at `dir`, whose drafts folder must hold none yet: what an earlier
/// run there learnt (the concurrency cache) stays.
fn draft_in(dir: &Path, url: &str, gaps: usize, concurrency: usize, extra: &[&str]) -> Measure {
    let _ = std::fs::remove_dir_all(dir.join("drafts").join("ch"));
    let m = measure(
        Command::new(env!("CARGO_BIN_EXE_aigcq"))
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("OPENAI_API_KEY")
            .args([
                "draft",
                "--base-url",
                url,
                "--model",
                "bench",
                "--concurrency",
                &concurrency.to_string(),
            ])
            .args(extra),
    );
    let (drafts, errors) = aigcq::store::Store::new(dir.join("drafts")).pending();
    assert_eq!((drafts.len(), errors.len()), (gaps, 0), "{}", m.stderr);
    m
}

fn main() {
    let answer = "**扩散模型（Diffusion Model）** 通过逐步去噪生成数据。\n\n1. 前向过程：逐步加噪。\n2. 反向过程：学习去噪。\n\n"
        .repeat(14);
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let items: [(&str, Item); 6] = [
        ("concurrency", concurrency),
        ("rate_limited", rate_limited),
        ("prompt_cache", prompt_cache),
        ("batch_scale", batch_scale),
        ("long_lines", |_| long_lines()),
        ("real_server", |_| real_server()),
    ];
    for (_, item) in items.into_iter().filter(|(name, _)| wanted(name)) {
        item(&answer);
    }
}

/// One item of the benchmark, given the answer the fakes send.
type Item = fn(&str);

/// Item 1: the unlimited fake at concurrency 8, then 100 and 1,000 gaps for memory.
fn concurrency(answer: &str) {
    let after = |r: Reply| Reply::Thinking(Duration::from_millis(200), Box::new(r));
    let (one_write, per_event) = (after(Reply::prepared(answer)), after(Reply::stream(answer)));
    let fake = common::start_in_thread(move |_, _| one_write.clone());
    let slow_fake = common::start_in_thread(move |_, _| per_event.clone());
    // The status only with the first token: a plain non-streaming server, a buffering proxy.
    let late = Reply::After(Duration::from_millis(200), Box::new(Reply::prepared(answer)));
    let late_fake = common::start_in_thread(move |_, _| late.clone());
    let chars = answer.chars().count();
    println!(
        "fake server, 200 ms per answer ({chars} chars in {} SSE events):",
        chars.div_ceil(4) + 4
    );
    let ideal = 64.0 / 8.0 * 0.2;
    for (label, url) in [
        ("one write per answer", &fake.url),
        ("one write per event", &slow_fake.url),
        ("status with the first token", &late_fake.url),
    ] {
        let m = draft(url, 64, 8, "", &[]);
        println!(
            "  64 gaps, concurrency 8, {label}: {:.3} s = {:.3}x the ideal {ideal:.1} s (target <= 1.15x); client CPU {:.2} ms per request (target <= 2 ms)",
            m.wall.as_secs_f64(),
            m.wall.as_secs_f64() / ideal,
            m.cpu.as_secs_f64() * 1e3 / 64.0
        );
    }
    for gaps in [100, 1000] {
        let m = draft(&fake.url, gaps, 64, "", &[]);
        println!(
            "  {gaps:>4} gaps, concurrency 64: {:.3} s wall (ideal {:.3} s), peak RSS {:.1} MB (target < 64 MB at 1,000)",
            m.wall.as_secs_f64(),
            gaps.div_ceil(64) as f64 * 0.2,
            m.max_rss_kib as f64 / 1024.0
        );
    }
}

/// A provider that admits 4 requests at once (each 200 ms) and answers 429 beyond, without
/// Retry-After: 64 gaps at concurrency 16 against the 64 / 4 × 0.2 s = 3.2 s that 4 in
/// flight take, and the share of requests answered 429 (issue 13's targets for adaptive
/// concurrency).
fn rate_limited(answer: &str) {
    for late in [false, true] {
        let reply = if late {
            Reply::After(Duration::from_millis(200), Box::new(Reply::prepared(answer)))
        } else {
            Reply::Thinking(Duration::from_millis(200), Box::new(Reply::prepared(answer)))
        };
        let (fake, limited) = common::limited(4, Duration::from_millis(200), reply);
        let timing = if late {
            "status with the first token"
        } else {
            "status at once"
        };
        // The second run starts from the window the first one ended with.
        let dir = common::project(&common::chapter_with_gaps(64), "");
        for run in ["first run", "second run"] {
            let (requests0, limited0) = (
                fake.seen.requests.load(std::sync::atomic::Ordering::SeqCst),
                limited.load(std::sync::atomic::Ordering::SeqCst),
            );
            let m = draft_in(dir.path(), &fake.url, 64, 16, &[]);
            let requests = fake.seen.requests.load(std::sync::atomic::Ordering::SeqCst) - requests0;
            let refused = limited.load(std::sync::atomic::Ordering::SeqCst) - limited0;
            let ideal = 64.0 / 4.0 * 0.2;
            println!(
                "rate-limited fake (4 at once, 429 beyond, {timing}), 64 gaps, concurrency 16, {run}: {:.3} s = {:.2}x the {ideal:.1} s of 4 in flight (target <= 1.25x, second run <= 1.10x); {refused} of {requests} requests answered 429 = {:.1} % (target <= 15 %)",
                m.wall.as_secs_f64(),
                m.wall.as_secs_f64() / ideal,
                refused as f64 * 100.0 / requests as f64
            );
        }
    }
}

/// A provider's prompt cache, faked: a prompt's cached tokens are the longest prefix it
/// shares with a prompt the fake received at least 10 ms earlier (its prefill done), counted
/// in whole 128-token blocks from 1,024 tokens as OpenAI does, with aigcq's own token
/// estimate. 10 gaps of a real chapter of the book at concurrency 4; `AIGCQ_BEFORE=<binary>`
/// also runs an older aigcq (the template before issue 13) for comparison.
fn prompt_cache(answer: &str) {
    use std::sync::{Arc, Mutex};
    let chapter = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/aigc-interview-book/AI视频基础New/01_AI视频核心基础知识.md");
    let Ok(text) = std::fs::read_to_string(&chapter) else {
        println!("prompt cache: skipped, {} is not there", chapter.display());
        return;
    };
    type Seen = Vec<(String, Instant)>;
    let seen: Arc<Mutex<(Seen, u64, u64)>> = Arc::default();
    let s = seen.clone();
    let answer = answer.to_owned();
    let fake = common::start_in_thread(move |_, body| {
        let prompt: Vec<&str> = body["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["content"].as_str())
            .collect();
        let prompt = prompt.join("\n");
        let mut s = s.lock().unwrap();
        let now = Instant::now();
        let shared =
            s.0.iter()
                .filter(|(_, ready)| *ready <= now)
                .map(|(p, _)| p.chars().zip(prompt.chars()).take_while(|(a, b)| a == b).count())
                .max()
                .unwrap_or(0);
        let total = aigcq::llm::tokens::estimate(&prompt);
        let prefix: String = prompt.chars().take(shared).collect();
        let cached = match aigcq::llm::tokens::estimate(&prefix) {
            t if t >= 1024 => t / 128 * 128,
            _ => 0,
        };
        s.0.push((prompt, now + Duration::from_millis(10)));
        s.1 += total;
        s.2 += cached;
        let usage = serde_json::json!({"prompt_tokens": total, "completion_tokens": 240, "prompt_tokens_details": {"cached_tokens": cached}});
        Reply::Thinking(Duration::from_millis(200), Box::new(Reply::with_usage(&answer, usage)))
    });
    let mut runs = vec![(
        "the cache-friendly layout",
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_aigcq")),
    )];
    if let Some(before) = std::env::var_os("AIGCQ_BEFORE") {
        runs.push(("before issue 13", before.into()));
    }
    println!(
        "prompt cache (fake: shared prefix from 1,024 tokens), 10 gaps of {}, concurrency 4:",
        chapter.file_name().unwrap().to_string_lossy()
    );
    for (label, bin) in runs {
        *seen.lock().unwrap() = Default::default();
        let dir = common::project(&text, "");
        let m = measure(
            Command::new(bin)
                .current_dir(dir.path())
                .env("NO_COLOR", "1")
                .env_remove("OPENAI_API_KEY")
                .args([
                    "draft",
                    "--base-url",
                    &fake.url,
                    "--model",
                    "bench",
                    "--concurrency",
                    "4",
                    "--limit",
                    "10",
                ]),
        );
        let (_, total, cached) = &*seen.lock().unwrap();
        println!(
            "  {label}: {cached} of {total} prompt tokens cached = {:.1} % (target >= 60 %), {:.2} s",
            *cached as f64 * 100.0 / *total as f64,
            m.wall.as_secs_f64()
        );
    }
}

/// `draft --batch` with 10,000 questions against the Batch API fake, `max_lines = 3000`: the
/// run is split into 4 batches, and collecting joins each output (in shuffled order) back to
/// its 10,000 questions; wall time and peak memory of submit and collect.
fn batch_scale(answer: &str) {
    let n = 10_000;
    let answer = answer.to_owned();
    let fake = common::batch::start(
        move |_| {
            Ok((
                answer.clone(),
                serde_json::json!({"prompt_tokens": 900, "completion_tokens": 240}),
            ))
        },
        false,
    );
    let dir = common::project(&common::chapter_with_gaps(n), "[batch]\nmax_lines = 3000\n");
    let run = |args: &[&str]| {
        measure(
            Command::new(env!("CARGO_BIN_EXE_aigcq"))
                .current_dir(dir.path())
                .env("NO_COLOR", "1")
                .env("OPENAI_BASE_URL", &fake.url)
                .env("AIGCQ_MODEL", "bench")
                .env_remove("OPENAI_API_KEY")
                .args(args),
        )
    };
    let submit = run(&["draft", "--batch", "--example-chars", "0"]);
    for _ in 0..3 {
        run(&["batch", "status"]);
    }
    let collect = run(&["batch", "collect"]);
    let (drafts, errors) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    let questions: std::collections::HashSet<usize> = drafts.iter().map(|d| d.meta.index).collect();
    assert_eq!(
        (drafts.len(), questions.len(), errors.len()),
        (n, n, 0),
        "{}",
        collect.stderr
    );
    let sizes: Vec<u64> = walkdir::WalkDir::new(dir.path().join("drafts"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.path().to_string_lossy().contains(".batches"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .collect();
    let written: u64 = sizes.iter().sum();
    // The floor: the same number of files of the same sizes, written plainly into one new
    // folder beside the project, no temporary names, no syncs. Creating files dominates on
    // ext4, and its speed varies from run to run: the ratio is what compares.
    let floor_dir = tempfile::tempdir_in(dir.path()).unwrap();
    let started = Instant::now();
    for (i, len) in sizes.iter().enumerate() {
        std::fs::write(floor_dir.path().join(format!("{i}.md")), vec![b'x'; *len as usize]).unwrap();
    }
    let floor = started.elapsed();
    println!(
        "batch mode, {n} questions, max_lines 3000: {} batches; submit {:.2} s, peak RSS {:.1} MB; collect {:.2} s (CPU {:.2} s), peak RSS {:.1} MB; {n} drafts, one per question, {} files, {:.1} MB written; floor (plain writes of those files) {:.2} s, collect = {:.2}x the floor",
        fake.api.lock().unwrap().created.len(),
        submit.wall.as_secs_f64(),
        submit.max_rss_kib as f64 / 1024.0,
        collect.wall.as_secs_f64(),
        collect.cpu.as_secs_f64(),
        collect.max_rss_kib as f64 / 1024.0,
        sizes.len(),
        written as f64 / 1e6,
        floor.as_secs_f64(),
        collect.wall.as_secs_f64() / floor.as_secs_f64()
    );
}

/// CPU time of drafting one answer that arrives as one long SSE line, in small pieces.
fn long_lines() {
    println!("one answer as a single SSE line, sent in 16 KB pieces:");
    let mut first = None;
    for mb in [10usize, 20] {
        let content = "长".repeat((mb << 20) / 3);
        let reply = Reply::one_long_line(&content, 16 << 10);
        let fake = common::start_in_thread(move |_, _| reply.clone());
        let m = draft(&fake.url, 1, 1, "", &[]);
        let cpu = m.cpu.as_secs_f64();
        let growth = first.map_or(String::new(), |f: f64| {
            format!(" = {:.2}x the 10 MB time (linear: 2x)", cpu / f)
        });
        first.get_or_insert(cpu);
        println!(
            "  {mb} MB: client CPU {cpu:.3} s, wall {:.3} s{growth}",
            m.wall.as_secs_f64()
        );
    }
}

/// Completion tokens per second: direct requests against aigcq, same prompts, same server.
fn real_server() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/local-llm");
    let port = "8091";
    let out = Command::new(&script)
        .args(["start"])
        .env("AIGCQ_LLM_PORT", port)
        .output()
        .unwrap();
    if !out.status.success() {
        println!(
            "real server: skipped, scripts/local-llm start failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let gaps = 8;
    let toml = "[provider]\nextra_body = { ignore_eos = true }\n";
    let flags = ["--temperature", "0", "--max-tokens", "96", "--example-chars", "0"];

    // The exact prompts aigcq sends, from its own dry run.
    let dir = common::project(&common::chapter_with_gaps(gaps), toml);
    let dry = Command::new(env!("CARGO_BIN_EXE_aigcq"))
        .current_dir(dir.path())
        .args(["draft", "--dry-run", "--json"])
        .args(flags)
        .output()
        .unwrap();
    let prompts: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let bodies: Vec<serde_json::Value> = prompts
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            serde_json::json!({
                "model": "bench", "temperature": 0, "max_tokens": TOKENS, "ignore_eos": true,
                "messages": [{"role": "system", "content": p["messages"]["system"]}, {"role": "user", "content": p["messages"]["user"]}],
            })
        })
        .collect();
    let direct = || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use futures_util::StreamExt;
            let http = reqwest::Client::new();
            let start = Instant::now();
            let tokens: u64 = futures_util::stream::iter(&bodies)
                .map(|b| {
                    let http = http.clone();
                    let url = format!("{url}/chat/completions");
                    async move {
                        let v: serde_json::Value = http.post(url).json(b).send().await.unwrap().json().await.unwrap();
                        v["usage"]["completion_tokens"].as_u64().unwrap()
                    }
                })
                .buffer_unordered(4)
                .fold(0, |a, b| async move { a + b })
                .await;
            tokens as f64 / start.elapsed().as_secs_f64()
        })
    };
    direct(); // warm-up: loads the prompt cache for both sides
    let before = direct();
    let m = draft(&url, gaps, 4, toml, &flags);
    let after = direct();
    let tokens = (gaps as u32 * TOKENS) as f64;
    let through_aigcq = tokens / m.wall.as_secs_f64();
    let server = (before + after) / 2.0;
    println!("real server (llama.cpp, SmolLM2-135M, n_parallel 4), {gaps} questions x {TOKENS} tokens:");
    println!("  direct, 4 in flight:      {server:.1} tokens/s (runs before and after: {before:.1}, {after:.1})");
    println!(
        "  aigcq draft, 4 in flight: {through_aigcq:.1} tokens/s = {:.2}x the server (whole process: start-up, prompts, files)",
        through_aigcq / server
    );
    let _ = Command::new(&script).arg("stop").env("AIGCQ_LLM_PORT", port).status();
}
