//! An in-process OpenAI-compatible fake: each request gets the reply a test script chooses,
//! and the fake records what it saw (bodies, Authorization headers, requests in flight).

#![allow(dead_code)] // each test binary uses a different part

pub mod batch;
pub mod pdf;
pub mod web;

use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

/// What the fake answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An SSE stream: a reasoning delta, the content in small pieces for each of `n` choices,
    /// the finish reason, usage and `[DONE]`.
    Stream {
        content: String,
        finish: &'static str,
        n: u32,
    },
    /// A stream rendered once and sent in one write ([`Reply::prepared`]): the client still
    /// parses every event, but the fake's own cost stays out of a benchmark.
    Prepared(Bytes),
    /// A whole JSON completion.
    Whole { content: String, finish: &'static str },
    /// An error status with a body and extra headers.
    Status {
        status: u16,
        body: String,
        headers: Vec<(&'static str, String)>,
    },
    /// An HTML error page, as a proxy sends.
    Html(u16),
    /// Part of a stream, then the end of the body without a finish reason or `[DONE]`.
    Cut,
    /// Part of a stream, then a broken connection.
    Broken,
    /// Headers and one piece, then nothing ever again.
    Hang,
    /// Content deltas forever, as fast as the client reads them.
    Endless,
    /// Content deltas and `[DONE]`, but no finish reason: a stream cut and closed by a proxy.
    DoneWithoutFinish,
    /// Status 200 with a JSON error body.
    ErrorBody(String),
    /// A prepared stream sent in pieces of this many bytes.
    Chunked(Bytes, usize),
    /// Waits (tokio time) first.
    After(Duration, Box<Reply>),
    /// Status and headers at once, then the body of the stream it wraps after the delay: a
    /// streaming server admitting the request and then working on it.
    Thinking(Duration, Box<Reply>),
}

impl Reply {
    pub fn stream(content: &str) -> Reply {
        Reply::Stream {
            content: content.into(),
            finish: "stop",
            n: 1,
        }
    }
    /// [`Reply::prepared`] reporting this `usage`.
    pub fn with_usage(content: &str, usage: Value) -> Reply {
        let mut parts = stream_events(content, "stop", 1);
        let last = parts.len() - 2;
        parts[last] = event(json!({"choices": [], "usage": usage}));
        Reply::Prepared(parts.concat().into())
    }
    pub fn prepared(content: &str) -> Reply {
        Reply::Prepared(stream_events(content, "stop", 1).concat().into())
    }
    /// A stream whose content arrives in one event (one long line), sent in small pieces.
    pub fn one_long_line(content: &str, piece: usize) -> Reply {
        let parts = [
            delta(0, content),
            event(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ];
        Reply::Chunked(parts.concat().into(), piece)
    }
    pub fn status(status: u16, message: &str) -> Reply {
        Reply::Status {
            status,
            body: json!({"error": {"message": message}}).to_string(),
            headers: vec![],
        }
    }
}

type Script = dyn Fn(usize, &Value) -> Reply + Send + Sync;

pub struct Seen {
    script: Box<Script>,
    pub requests: AtomicUsize,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub bodies: Mutex<Vec<Value>>,
    pub auth: Mutex<Vec<Option<String>>>,
}

/// A running fake.
pub struct Fake {
    /// The base URL, ending in `/v1`.
    pub url: String,
    pub seen: Arc<Seen>,
}

/// Counts a request as in flight until its body has been sent or dropped.
struct InFlight(Arc<Seen>);

impl InFlight {
    fn new(seen: Arc<Seen>) -> InFlight {
        let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        seen.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(seen)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn event(v: Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn delta(index: u32, content: &str) -> Bytes {
    event(json!({"choices": [{"index": index, "delta": {"content": content}}]}))
}

fn pieces(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect()).collect()
}

/// A reasoning delta, the content in small pieces for each of `n` choices, the finish reason,
/// usage and `[DONE]`.
fn stream_events(content: &str, finish: &str, n: u32) -> Vec<Bytes> {
    let mut parts = vec![event(
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "REASONING-MUST-NOT-LEAK"}}]}),
    )];
    for i in 0..n {
        let text = if i == 0 {
            content.to_owned()
        } else {
            format!("{content}（候选 {}）", i + 1)
        };
        parts.extend(pieces(&text).iter().map(|p| delta(i, p)));
        parts.push(event(
            json!({"choices": [{"index": i, "delta": {}, "finish_reason": finish}]}),
        ));
    }
    parts.push(event(
        json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7}}),
    ));
    parts.push(Bytes::from_static(b"data: [DONE]\n\n"));
    parts
}

fn sse(parts: Vec<Result<Bytes, std::io::Error>>, guard: InFlight, hang: bool) -> Response {
    let stream = futures_util::stream::iter(parts);
    let tail = futures_util::stream::unfold((guard, hang), |(guard, hang)| async move {
        if hang {
            std::future::pending::<()>().await;
        }
        drop(guard);
        None::<(Result<Bytes, std::io::Error>, (InFlight, bool))>
    });
    use futures_util::StreamExt;
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream.chain(tail)))
        .unwrap()
}

fn respond(reply: Reply, guard: InFlight) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>> {
    Box::pin(async move {
        match reply {
            Reply::After(d, inner) => {
                tokio::time::sleep(d).await;
                respond(*inner, guard).await
            }
            Reply::Stream { content, finish, n } => sse(
                stream_events(&content, finish, n).into_iter().map(Ok).collect(),
                guard,
                false,
            ),
            Reply::Prepared(body) => sse(vec![Ok(body)], guard, false),
            Reply::Thinking(d, inner) => {
                use futures_util::StreamExt;
                let later = futures_util::stream::once(async move {
                    tokio::time::sleep(d).await;
                    respond(*inner, guard).await.into_body().into_data_stream()
                })
                .flatten();
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(later))
                    .unwrap()
            }
            Reply::Whole { content, finish } => {
                drop(guard);
                let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}]});
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap()
            }
            Reply::Status { status, body, headers } => {
                drop(guard);
                let mut r = Response::builder()
                    .status(status)
                    .header("content-type", "application/json");
                for (k, v) in headers {
                    r = r.header(k, v);
                }
                r.body(Body::from(body)).unwrap()
            }
            Reply::Html(status) => {
                drop(guard);
                Response::builder()
                    .status(status)
                    .header("content-type", "text/html")
                    .body(Body::from(
                        "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
                    ))
                    .unwrap()
            }
            Reply::Cut => sse(vec![Ok(delta(0, "只写了一半"))], guard, false),
            Reply::Broken => sse(
                vec![
                    Ok(delta(0, "只写了一半")),
                    Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")),
                ],
                guard,
                false,
            ),
            Reply::Hang => sse(vec![Ok(delta(0, "开始"))], guard, true),
            Reply::Endless => {
                let piece = delta(0, &"无尽的回答。".repeat(50));
                let endless = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(piece.clone()));
                let _guard = guard;
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(endless))
                    .unwrap()
            }
            Reply::DoneWithoutFinish => sse(
                vec![Ok(delta(0, "只写了一半")), Ok(Bytes::from_static(b"data: [DONE]\n\n"))],
                guard,
                false,
            ),
            Reply::ErrorBody(message) => {
                drop(guard);
                let body = json!({"error": {"message": message, "type": "insufficient_quota"}});
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap()
            }
            Reply::Chunked(body, size) => {
                let parts = body.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
                sse(parts, guard, false)
            }
        }
    })
}

async fn handler(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: Bytes) -> Result<Response, Infallible> {
    let guard = InFlight::new(seen.clone());
    let n = seen.requests.fetch_add(1, Ordering::SeqCst);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.auth.lock().unwrap().push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("").to_owned()),
    );
    let reply = (seen.script)(n, &body);
    seen.bodies.lock().unwrap().push(body);
    Ok(respond(reply, guard).await)
}

fn seen(script: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static) -> Arc<Seen> {
    Arc::new(Seen {
        script: Box::new(script),
        requests: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        bodies: Mutex::new(Vec::new()),
        auth: Mutex::new(Vec::new()),
    })
}

fn app(seen: Arc<Seen>) -> axum::Router {
    axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(handler))
        .with_state(seen)
}

/// The chat fake's routes and what it sees, to serve beside other fakes (the Batch API's).
pub fn chat_routes(script: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static) -> (axum::Router, Arc<Seen>) {
    let seen = seen(script);
    (app(seen.clone()), seen)
}

/// Starts the fake on the current runtime (so paused time covers it too).
pub async fn start(script: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static) -> Fake {
    let seen = seen(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app(seen.clone())).into_future());
    Fake { url, seen }
}

/// Starts the fake on a thread of its own, for tests that run the aigcq binary.
pub fn start_in_thread(script: impl Fn(usize, &Value) -> Reply + Send + Sync + 'static) -> Fake {
    let seen = seen(script);
    let url = serve_in_thread(app(seen.clone()));
    Fake {
        url: format!("{url}/v1"),
        seen,
    }
}

/// A server that serves `slots` requests at once and answers 429 beyond, on a thread of its
/// own: each request it takes is busy for `busy` from its arrival (until its answer is sent,
/// as a server counts it), then answered with `reply`. Also the count of 429s.
pub fn limited(slots: usize, busy: Duration, reply: Reply) -> (Fake, Arc<AtomicUsize>) {
    let taken: Arc<Mutex<Vec<std::time::Instant>>> = Arc::default();
    let refused = Arc::new(AtomicUsize::new(0));
    let r = refused.clone();
    let fake = start_in_thread(move |_, _| {
        let mut taken = taken.lock().unwrap();
        let now = std::time::Instant::now();
        taken.retain(|until| *until > now);
        if taken.len() >= slots {
            r.fetch_add(1, Ordering::SeqCst);
            return Reply::status(429, &format!("Rate limit reached: {slots} requests at once"));
        }
        taken.push(now + busy);
        reply.clone()
    });
    (fake, refused)
}

/// `aigcq` run in `dir` against the API at `url` with model `fake-model`, no key, no colour.
pub fn aigcq_at(dir: &Path, url: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("aigcq").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("OPENAI_BASE_URL", url)
        .env("AIGCQ_MODEL", "fake-model")
        .env_remove("OPENAI_API_KEY")
        .env_remove("AIGCQ_LOG");
    cmd
}

/// Serves `app` on 127.0.0.1 from a thread of its own; its base URL (`http://host:port`).
pub fn serve_in_thread(app: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(format!("http://{}", listener.local_addr().unwrap())).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A chapter with `n` empty questions (and one answered one for style), LF line endings.
pub fn chapter_with_gaps(n: usize) -> String {
    let mut s = String::from(
        "# 测试章节\n\n## 1、什么是扩散模型？\n\n扩散模型通过逐步去噪从噪声中生成数据，是当前图像生成的主流方法。\n\n",
    );
    for i in 2..n + 2 {
        s.push_str(&format!("## {i}、问题{i}是什么？\n\n"));
    }
    s
}

/// A project folder with `aigcq.toml` (extra TOML appended) and one chapter.
pub fn project(chapter: &str, toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("content")).unwrap();
    std::fs::create_dir_all(dir.path().join("drafts")).unwrap();
    std::fs::write(dir.path().join("content/ch.md"), chapter).unwrap();
    std::fs::write(dir.path().join("aigcq.toml"), toml).unwrap();
    dir
}

/// Every file below `dir`, as (path relative to dir, contents).
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The front matter `aigcq draft` would write for each gap of `text` (chapter `name`).
pub fn metas_for(name: &str, text: &str) -> Vec<aigcq::store::Meta> {
    let rules = aigcq::chapter::Rules::new(&aigcq::chapter::QuestionConfig::default()).unwrap();
    let chapter = aigcq::chapter::Chapter::parse(text, &rules);
    chapter
        .gaps()
        .map(|gap| aigcq::store::Meta {
            chapter: name.into(),
            question_id: format!("{name}#{}", gap.anchor),
            anchor: gap.anchor.into(),
            question: gap.text.into(),
            index: gap.index,
            kind: gap.kind,
            level: aigcq::prompt::answer_level(&chapter, &gap),
            span_hash: aigcq::identity::span_hash(&chapter, &gap),
            model: "m".into(),
            host: "h".into(),
            template: "default".into(),
            template_hash: "t".into(),
            temperature: None,
            created: "2026-11-26T00:00:00Z".into(),
            finish_reason: Some("stop".into()),
            truncated: false,
            filtered: false,
            candidate: 1,
            candidates: 1,
            warnings: vec![],
            usage: None,
            rewrite: false,
            parent: None,
            feedback: None,
            references: Vec::new(),
            score: None,
            reasons: None,
            judge: None,
            judge_template: None,
            batch: None,
        })
        .collect()
}

/// [`metas_for`] of gap `index`.
pub fn meta_for(name: &str, text: &str, index: usize) -> aigcq::store::Meta {
    metas_for(name, text)
        .into_iter()
        .find(|m| m.index == index)
        .expect("a gap")
}

/// The ledger's lines of the project in `dir`, parsed.
pub fn ledger(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("drafts/ledger.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The Markdown chapters below `dir`, in path order.
pub fn chapters_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// The real book in `../shared/corpus/`. CI always has it; elsewhere a test that needs it is
/// skipped with a printed reason.
pub fn corpus() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/aigc-interview-book");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have the corpus at {}",
        dir.display()
    );
    eprintln!("skipped: no corpus at {}", dir.display());
    None
}

/// `git` in `dir` with a fixed identity, for tests of `--commit`; its standard output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .envs(GIT_IDENTITY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The identity `git` and aigcq's own commits run with in tests.
pub const GIT_IDENTITY: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "t"),
    ("GIT_AUTHOR_EMAIL", "t@example.invalid"),
    ("GIT_COMMITTER_NAME", "t"),
    ("GIT_COMMITTER_EMAIL", "t@example.invalid"),
];
