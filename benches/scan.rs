//! `cargo bench --bench scan`: `aigcq gaps --json` over a generated corpus of at least 100 MB
//! against a single-threaded walk of pulldown-cmark's events over the same files, in the same
//! run; peak memory of the aigcq process; `aigcq gaps` on the bundled chapter.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TARGET_BYTES: u64 = 100 << 20;
const RUNS: usize = 3;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = root.join("../shared/corpus/aigc-interview-book");
    if !source.is_dir() {
        eprintln!("skipped: no corpus at {}", source.display());
        return;
    }
    let corpus = root.join("target/bench-corpus");
    let (files, bytes) = generate(&source, &corpus);
    println!(
        "corpus: {} files, {:.1} MB (copies of {})",
        files.len(),
        bytes as f64 / 1e6,
        source.display()
    );

    let baseline = best(|| {
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            let events = pulldown_cmark::Parser::new_ext(&text, aigcq::chapter::parser_options()).into_offset_iter();
            std::hint::black_box(events.count());
        }
    });
    let exe = env!("CARGO_BIN_EXE_aigcq");
    let gaps = best(|| run(Command::new(exe).args(["gaps", "--json"]).arg(&corpus)));
    let peak_kib = children_max_rss_kib();
    let mbps = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    println!(
        "parse-only walk, 1 thread:  {:>8.3} s  ({:.0} MB/s)",
        baseline.as_secs_f64(),
        mbps(baseline)
    );
    println!(
        "aigcq gaps --json, {} cores: {:>8.3} s  ({:.0} MB/s)",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        gaps.as_secs_f64(),
        mbps(gaps)
    );
    println!(
        "ratio aigcq / parse-only:   {:>8.2}x  (target <= 1.00x)",
        gaps.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "aigcq peak RSS:             {:>8.1} MB  (target <= 64 MB)",
        peak_kib as f64 / 1024.0
    );

    let mut times: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            run(Command::new(exe).arg("gaps").current_dir(root));
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "aigcq gaps, bundled chapter: {:>7.1} ms median of 21 (target < 20 ms)",
        times[10].as_secs_f64() * 1e3
    );
}

/// Copies the corpus files under new names until there are `TARGET_BYTES`; reuses a complete
/// earlier copy.
fn generate(source: &Path, out: &Path) -> (Vec<PathBuf>, u64) {
    let (originals, _) = aigcq::scan::chapter_paths(&[source.to_path_buf()]);
    let done = out.join(".complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(out);
        let mut bytes = 0u64;
        let mut copy = 0;
        while bytes < TARGET_BYTES {
            let dir = out.join(format!("book-{copy:04}"));
            std::fs::create_dir_all(&dir).unwrap();
            for (i, f) in originals.iter().enumerate() {
                let to = dir.join(format!("{i:02}-{}", f.file_name().unwrap().to_string_lossy()));
                bytes += std::fs::copy(f, to).unwrap();
            }
            copy += 1;
        }
        std::fs::write(&done, "").unwrap();
    }
    let (files, _) = aigcq::scan::chapter_paths(&[out.to_path_buf()]);
    let bytes = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    (files, bytes)
}

fn best(mut f: impl FnMut()) -> Duration {
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

fn run(cmd: &mut Command) {
    let status = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
    assert!(status.code().is_some_and(|c| c <= 1), "aigcq failed: {status}");
}

/// The largest resident set of any child waited for so far.
fn children_max_rss_kib() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init().ru_maxrss
    }
}
