//! The drafting client and runner against an in-process fake server: every error path, retry
//! timing (on paused tokio time), the concurrency bound, candidates and what lands on disk.

mod common;

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aigcq::chapter::{Chapter, QuestionConfig, Rules};
use aigcq::draft::{Drafter, Event, Job, Totals};
use aigcq::llm::Messages;
use aigcq::llm::client::Client;
use aigcq::llm::provider::ProviderConfig;
use aigcq::llm::provider::{Overrides, Provider};
use aigcq::prompt::{ChapterFacts, RunContext, Templates};
use aigcq::store::Store;
use common::Reply;
use serde_json::{Value, json};

fn provider(url: &str, cfg: ProviderConfig) -> Provider {
    let over = Overrides {
        base_url: Some(url.into()),
        ..Default::default()
    };
    Provider::resolve(&cfg, |_| None, &over).unwrap()
}

fn client(url: &str, cfg: ProviderConfig, stream: bool) -> Client {
    Client::new(&provider(url, cfg), "test-model", stream)
        .unwrap()
        .with_min_delay(Duration::from_millis(1))
}

fn messages() -> Messages {
    Messages {
        system: Some("你是面试官".into()),
        user: "什么是 DiT？".into(),
        turns: Vec::new(),
        cache_key: None,
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_without_real_sleeping() {
    let fake = common::start(|n, _| match n {
        0 => Reply::Status {
            status: 429,
            body: r#"{"error":{"message":"rate limited"}}"#.into(),
            headers: vec![("retry-after", "30".into())],
        },
        _ => Reply::stream("答案"),
    })
    .await;
    let c = client(&fake.url, ProviderConfig::default(), true);
    let (virtual_start, real_start) = (tokio::time::Instant::now(), std::time::Instant::now());
    let mut delays = Vec::new();
    let got = c.complete(&messages(), 1, |_, d| delays.push(d)).await.unwrap();
    assert_eq!(got.choices[0].content, "答案");
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 2);
    assert_eq!(
        delays,
        [Duration::from_secs(30)],
        "the server's delay, not the backoff's"
    );
    assert!(virtual_start.elapsed() >= Duration::from_secs(30));
    assert!(
        real_start.elapsed() < Duration::from_secs(10),
        "{:?}",
        real_start.elapsed()
    );
}

#[tokio::test]
async fn transient_failures_are_retried_until_an_answer_arrives() {
    let fake = common::start(|n, _| match n {
        0 => Reply::status(500, "internal"),
        1 => Reply::Cut,
        2 => Reply::Broken,
        3 => Reply::Html(502),
        _ => Reply::stream("第五次才成功"),
    })
    .await;
    let c = client(&fake.url, ProviderConfig::default(), true);
    let mut errors = Vec::new();
    let got = c
        .complete(&messages(), 1, |e, _| errors.push(e.to_string()))
        .await
        .unwrap();
    assert_eq!(got.choices[0].content, "第五次才成功");
    assert_eq!(got.choices[0].finish_reason.as_deref(), Some("stop"));
    assert_eq!(got.usage.unwrap().completion_tokens, 7);
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].contains("HTTP 500: internal"), "{errors:?}");
    assert!(errors[1].contains("ended before the answer was complete"), "{errors:?}");
    assert!(
        errors[3].contains("HTML page") && errors[3].contains("502 Bad Gateway"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn retries_stop_at_max_retries() {
    let fake = common::start(|_, _| Reply::status(503, "overloaded")).await;
    let cfg = ProviderConfig {
        max_retries: Some(2),
        ..Default::default()
    };
    let e = client(&fake.url, cfg, true)
        .complete(&messages(), 1, |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn timeouts_are_retried() {
    let fake = common::start(|n, _| match n {
        0 => Reply::After(Duration::from_secs(5), Box::new(Reply::stream("太慢"))),
        _ => Reply::stream("及时"),
    })
    .await;
    let cfg = ProviderConfig {
        timeout: Some(0.3),
        ..Default::default()
    };
    let mut errors = Vec::new();
    let got = client(&fake.url, cfg, true)
        .complete(&messages(), 1, |e, _| errors.push(e.to_string()))
        .await
        .unwrap();
    assert_eq!(got.choices[0].content, "及时");
    assert!(errors[0].contains("timed out"), "{errors:?}");
}

#[tokio::test]
async fn client_errors_fail_at_once_with_the_message_and_a_hint() {
    let cases: [(Reply, ProviderConfig, &[&str]); 4] = [
        (Reply::status(401, "Incorrect API key provided"), ProviderConfig::default(), &["HTTP 401", "Incorrect API key", "no API key: set $OPENAI_API_KEY"]),
        (Reply::status(404, "The model `x` does not exist"), ProviderConfig::default(), &["HTTP 404", "does not exist", "unknown model \"test-model\""]),
        (
            Reply::Status {
                status: 400,
                body: json!({"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "code": "unsupported_parameter"}}).to_string(),
                headers: vec![],
            },
            ProviderConfig { max_tokens: Some(100), ..Default::default() },
            &["HTTP 400", "token_param = \"max_completion_tokens\""],
        ),
        (Reply::status(403, "region"), ProviderConfig::default(), &["HTTP 403", "no access to model"]),
    ];
    for (reply, cfg, expected) in cases {
        let fake = common::start(move |_, _| reply.clone()).await;
        let e = client(&fake.url, cfg, true)
            .complete(&messages(), 1, |_, _| panic!("no retry"))
            .await
            .unwrap_err();
        let text = e.to_string();
        for x in expected {
            assert!(text.contains(x), "{text:?} lacks {x:?}");
        }
        assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test]
async fn whole_responses_and_the_request_body() {
    let fake = common::start(|_, _| Reply::Whole {
        content: "整段返回".into(),
        finish: "stop",
    })
    .await;
    let cfg = ProviderConfig {
        temperature: Some(0.3),
        max_tokens: Some(64),
        token_param: Some(aigcq::llm::provider::TokenParam::MaxCompletionTokens),
        extra_body: toml::from_str("enable_thinking = false").unwrap(),
        ..Default::default()
    };
    let got = client(&fake.url, cfg, false)
        .complete(&messages(), 1, |_, _| {})
        .await
        .unwrap();
    assert_eq!(got.choices[0].content, "整段返回");
    assert_eq!(got.usage, None, "no usage sent, none invented");
    let body = fake.seen.bodies.lock().unwrap()[0].clone();
    assert_eq!(body["stream"], false);
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["max_completion_tokens"], 64);
    assert_eq!(body["temperature"], 0.3);
    assert_eq!(body["enable_thinking"], false);
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(body.get("n").is_none() && body.get("max_tokens").is_none(), "{body}");
}

/// Drafts every gap of `chapter` against `url` and returns the summary, the events (as text)
/// and the store's folder.
async fn draft_chapter(
    url: &str,
    chapter: &str,
    candidates: u32,
    concurrency: usize,
) -> (Totals, Vec<String>, tempfile::TempDir) {
    draft_chapter_with(url, chapter, candidates, concurrency, true).await
}

/// [`draft_chapter`], streaming or not.
async fn draft_chapter_with(
    url: &str,
    chapter: &str,
    candidates: u32,
    concurrency: usize,
    stream: bool,
) -> (Totals, Vec<String>, tempfile::TempDir) {
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let parsed = Chapter::parse(chapter, &rules);
    let facts = ChapterFacts::new(&parsed, "sub/ch.md");
    let jobs: Vec<Job> = parsed
        .gaps()
        .map(|gap| Job {
            facts: &facts,
            gap,
            rewrite: false,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().to_path_buf());
    let templates = Templates::load(&dir.path().join("no-prompts"), "default").unwrap();
    let run = RunContext {
        style: None,
        today: "2026-01-01".into(),
        example_chars: 1000,
        prompt_cache_key: false,
        glossary: None,
        related: None,
        related_chars: 0,
    };
    let c = client(url, ProviderConfig::default(), stream);
    let drafter = Drafter {
        client: &c,
        templates: &templates,
        rules: &rules,
        run: &run,
        store: &store,
        candidates,
        concurrency,
        model: "test-model",
        host: "fake",
        temperature: None,
        refs: None,
        content: None,
        judge: None,
        cache_warmup: 1024,
        reference_copy: 100,
    };
    let events = Mutex::new(Vec::new());
    let report = |e: Event| {
        let line = match e {
            Event::Retrying { id, error, .. } => format!("retry {id}: {error}"),
            Event::Receiving { .. } => return,
            Event::Drafted {
                id, saved, truncated, ..
            } => format!("drafted {id}: {} truncated={truncated}", saved.len()),
            Event::Failed { id, error } => format!("failed {id}: {error:#}"),
            Event::OneByOne { why } => format!("one by one: {why}"),
            Event::Judged { .. } | Event::NotJudged { .. } => unreachable!("no judge here"),
        };
        events.lock().unwrap().push(line);
    };
    let summary = drafter.run(jobs, &report).await;
    (summary, events.into_inner().unwrap(), dir)
}

#[tokio::test]
async fn keeps_exactly_concurrency_requests_in_flight() {
    let fake = common::start(|_, _| {
        Reply::After(
            Duration::from_millis(60),
            Box::new(Reply::stream("<think>先想</think>**答案**：扩散模型逐步去噪。")),
        )
    })
    .await;
    let (summary, events, dir) = draft_chapter(&fake.url, &common::chapter_with_gaps(12), 1, 3).await;
    assert_eq!(summary.drafted, 12, "{events:?}");
    assert_eq!(summary.failed, 0);
    assert_eq!(summary.usage.prompt_tokens, 12 * 11);
    assert_eq!(fake.seen.max_in_flight.load(Ordering::SeqCst), 3);
    let (drafts, errors) = Store::new(dir.path().to_path_buf()).pending();
    assert!(errors.is_empty());
    assert_eq!(drafts.len(), 12);
    for d in &drafts {
        assert_eq!(d.body, "**答案**：扩散模型逐步去噪。\n");
        assert_eq!(d.meta.chapter, "sub/ch.md");
        assert!(d.id.starts_with("sub/ch/"), "{}", d.id);
        assert_eq!((d.meta.candidate, d.meta.candidates), (1, 1));
    }
    for (_, bytes) in common::files(dir.path()) {
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("REASONING-MUST-NOT-LEAK") && !text.contains("先想"));
    }
}

#[tokio::test]
async fn truncated_answers_are_saved_and_marked_empty_ones_fail() {
    let fake = common::start(|_, body| {
        let user = body["messages"][1]["content"].as_str().unwrap_or_default().to_owned();
        if user.contains("问题2是什么") {
            Reply::Stream {
                content: String::new(),
                finish: "stop",
                n: 1,
            }
        } else if user.contains("问题3是什么") {
            Reply::Stream {
                content: "说到一半".into(),
                finish: "length",
                n: 1,
            }
        } else {
            Reply::stream("完整的答案。")
        }
    })
    .await;
    let (summary, events, dir) = draft_chapter(&fake.url, &common::chapter_with_gaps(3), 1, 2).await;
    assert_eq!(
        (summary.drafted, summary.failed, summary.truncated),
        (2, 1, 1),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("failed sub/ch.md#2") && e.contains("no answer text")),
        "{events:?}"
    );
    let (drafts, _) = Store::new(dir.path().to_path_buf()).pending();
    let cut = drafts.iter().find(|d| d.meta.index == 3).unwrap();
    assert!(cut.meta.truncated);
    assert_eq!(cut.meta.finish_reason.as_deref(), Some("length"));
    assert!(
        drafts.iter().all(|d| d.meta.index != 2),
        "an empty answer is never a draft"
    );
}

/// A proxy in front of a server that does not know `n` (LiteLLM in front of llama.cpp): a
/// stream of two choices where only the first finishes, or a whole reply whose second choice
/// is empty, for a request with `n`; a normal reply without.
fn mangling_proxy(stream: bool) -> impl Fn(usize, &Value) -> Reply {
    move |_, body| {
        let n = body["n"].as_u64().unwrap_or(1);
        if n == 1 {
            return if stream {
                Reply::stream("单独的候选")
            } else {
                Reply::Whole {
                    content: "单独的候选".into(),
                    finish: "stop",
                }
            };
        }
        if stream {
            let events = [
                json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "第一个候选"}}]}),
                json!({"choices": [{"index": 1, "delta": {"role": "assistant", "content": "第二个候选，没有结束"}}]}),
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
                json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7}}),
            ];
            let mut sse: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
            sse.push_str("data: [DONE]\n\n");
            Reply::Prepared(sse.into())
        } else {
            Reply::Status {
                status: 200,
                body: json!({"choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "第一个候选"}, "finish_reason": "stop"},
                    {"index": 1, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"},
                ]})
                .to_string(),
                headers: vec![],
            }
        }
    }
}

#[tokio::test]
async fn a_server_that_mangles_n_gets_one_request_per_candidate() {
    for stream in [true, false] {
        let fake = common::start(mangling_proxy(stream)).await;
        let (summary, events, dir) = draft_chapter_with(&fake.url, &common::chapter_with_gaps(3), 2, 1, stream).await;
        assert_eq!(
            (summary.drafted, summary.failed, summary.candidates),
            (3, 0, 6),
            "stream={stream}: {events:?}"
        );
        let said: Vec<_> = events.iter().filter(|e| e.starts_with("one by one")).collect();
        assert_eq!(said.len(), 1, "said once: {events:?}");
        // Detected on the first response: the next questions ask one candidate at a time.
        let bodies = fake.seen.bodies.lock().unwrap();
        assert_eq!(
            bodies.iter().filter(|b| b.get("n").is_some()).count(),
            1,
            "stream={stream}"
        );
        let (drafts, _) = Store::new(dir.path().to_path_buf()).pending();
        assert!(
            drafts
                .iter()
                .all(|d| !d.body.trim().is_empty() && !d.body.contains("没有结束"))
        );
        assert_eq!(drafts.len(), 6);
    }
}

#[tokio::test]
async fn candidates_use_n_and_fall_back_to_separate_requests() {
    let honours = common::start(|_, body| Reply::Stream {
        content: "候选".into(),
        finish: "stop",
        n: body["n"].as_u64().unwrap_or(1) as u32,
    })
    .await;
    let (summary, _, dir) = draft_chapter(&honours.url, &common::chapter_with_gaps(2), 3, 2).await;
    assert_eq!((summary.drafted, summary.candidates), (2, 6));
    assert_eq!(
        honours.seen.requests.load(Ordering::SeqCst),
        2,
        "one request per question"
    );
    let (drafts, _) = Store::new(dir.path().to_path_buf()).pending();
    let bodies: std::collections::HashSet<_> = drafts
        .iter()
        .filter(|d| d.meta.index == 2)
        .map(|d| d.body.clone())
        .collect();
    assert_eq!(bodies.len(), 3, "three different candidates");

    let ignores = common::start(|_, _| Reply::stream("只有一个")).await;
    let (summary, _, _) = draft_chapter(&ignores.url, &common::chapter_with_gaps(1), 3, 1).await;
    assert_eq!(summary.candidates, 3);
    assert_eq!(
        ignores.seen.requests.load(Ordering::SeqCst),
        3,
        "n ignored: two more requests"
    );
    let bodies = ignores.seen.bodies.lock().unwrap();
    assert_eq!(bodies[0]["n"], 3);
    assert!(bodies[1].get("n").is_none());
}

#[tokio::test]
async fn a_question_that_fails_does_not_stop_the_others() {
    let fake = common::start(|_, body| {
        if body["messages"][1]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("问题3是什么")
        {
            Reply::status(400, "content policy")
        } else {
            Reply::stream("答案")
        }
    })
    .await;
    let (summary, events, _) = draft_chapter(&fake.url, &common::chapter_with_gaps(4), 1, 2).await;
    assert_eq!((summary.drafted, summary.failed), (3, 1));
    assert!(
        events
            .iter()
            .any(|e| e.contains("failed sub/ch.md#3") && e.contains("HTTP 400: content policy")),
        "{events:?}"
    );
}

#[test]
fn span_hash_changes_with_the_question_not_with_the_rest() {
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let a = common::chapter_with_gaps(2);
    let b = a.replace("是当前图像生成的主流方法", "是主流方法");
    let c = a.replace("## 3、问题3是什么？", "## 3、问题3到底是什么？");
    let hash = |t: &str, i: usize| {
        let ch = Chapter::parse(t, &rules);
        let gap = ch.gaps().find(|g| g.index == i).unwrap();
        aigcq::identity::span_hash(&ch, &gap)
    };
    assert_eq!(hash(&a, 2), hash(&b, 2), "an edit to another answer");
    assert_eq!(hash(&a, 3), hash(&b, 3));
    assert_ne!(hash(&a, 3), hash(&c, 3), "the question itself changed");
    assert_ne!(hash(&a, 2), hash(&a, 3));
}

#[tokio::test]
async fn honest_statuses_for_what_servers_really_send() {
    // A 200 whose body is an error is final: one request.
    let fake = common::start(|_, _| Reply::ErrorBody("You exceeded your current quota".into())).await;
    let e = client(&fake.url, ProviderConfig::default(), false)
        .complete(&messages(), 1, |_, _| panic!("no retry"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("exceeded your current quota"), "{e}");
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 1);

    // [DONE] without a finish reason is a cut stream: retried, never an answer.
    let fake = common::start(|n, _| match n {
        0 => Reply::DoneWithoutFinish,
        _ => Reply::stream("完整"),
    })
    .await;
    let mut errors = Vec::new();
    let got = client(&fake.url, ProviderConfig::default(), true)
        .complete(&messages(), 1, |e, _| errors.push(e.to_string()))
        .await
        .unwrap();
    assert_eq!(got.choices[0].content, "完整");
    assert!(errors[0].contains("ended before the answer was complete"), "{errors:?}");

    // A Retry-After beyond what aigcq waits fails at once, saying how long the server asked.
    let fake = common::start(|_, _| Reply::Status {
        status: 429,
        body: r#"{"error":{"message":"rate limited"}}"#.into(),
        headers: vec![("retry-after", "3600".into())],
    })
    .await;
    let e = client(&fake.url, ProviderConfig::default(), true)
        .complete(&messages(), 1, |_, _| panic!("no retry"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("wait 3600 s"), "{e}");
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 1);

    // Silence in the middle of a stream is a timeout, and says so.
    let fake = common::start(|_, _| Reply::Hang).await;
    let cfg = ProviderConfig {
        timeout: Some(0.3),
        max_retries: Some(0),
        ..Default::default()
    };
    let e = client(&fake.url, cfg, true)
        .complete(&messages(), 1, |_, _| {})
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("timed out") && e.to_string().contains("middle"),
        "{e}"
    );
}

#[tokio::test]
async fn filtered_answers_are_saved_with_a_warning() {
    let fake = common::start(|_, _| Reply::Stream {
        content: "答案被过滤器截断之前写下的部分内容，足够长。".into(),
        finish: "content_filter",
        n: 1,
    })
    .await;
    let (summary, events, dir) = draft_chapter(&fake.url, &common::chapter_with_gaps(1), 1, 1).await;
    assert_eq!(summary.drafted, 1, "{events:?}");
    let d = Store::new(dir.path().to_path_buf()).pending().0.remove(0);
    assert!(d.meta.filtered);
    assert!(
        d.meta.warnings.iter().any(|w| w.code == "filtered"),
        "{:?}",
        d.meta.warnings
    );
}

#[tokio::test]
async fn one_ten_megabyte_line_in_small_pieces_is_read_whole() {
    let long = "长".repeat((10 << 20) / 3);
    let reply = Reply::one_long_line(&long, 16 << 10);
    let fake = common::start(move |_, _| reply.clone()).await;
    let got = client(&fake.url, ProviderConfig::default(), true)
        .complete(&messages(), 1, |_, _| {})
        .await
        .unwrap();
    assert_eq!(got.choices[0].content.len(), long.len());
}

/// An empty reply (or reasoning only) is asked for once more; twice empty, the question fails
/// saying what may be wrong.
#[tokio::test]
async fn an_empty_reply_is_asked_again_then_explained() {
    // Question 2's first reply is empty, its second an answer; question 3's replies are
    // always reasoning only.
    let fake = common::start(|_, body| {
        let user = body["messages"][1]["content"].as_str().unwrap_or_default().to_owned();
        let seen = user.contains("第 2 题");
        static ASKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        if seen {
            if ASKED.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::stream("")
            } else {
                Reply::stream("第二次终于有了回答，写得足够长。")
            }
        } else {
            Reply::stream("<think>只有推理，没有回答")
        }
    })
    .await;
    let (summary, events, _) = draft_chapter(&fake.url, &common::chapter_with_gaps(2), 1, 1).await;
    assert_eq!((summary.drafted, summary.failed), (1, 1), "{events:?}");
    let retries = events
        .iter()
        .filter(|e| e.starts_with("retry") && e.contains("no answer text"))
        .count();
    assert_eq!(retries, 2, "one more request each: {events:?}");
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("failed") && e.contains("no answer text twice") && e.contains("--max-tokens")),
        "{events:?}"
    );
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 4);
}
