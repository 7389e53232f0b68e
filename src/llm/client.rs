//! The chat-completions client: one `POST {base_url}/chat/completions`, streamed (SSE) or
//! not, with retries. It speaks the dialect OpenAI, DeepSeek, Qwen, GLM, Moonshot, vLLM,
//! llama.cpp and Ollama share, and absorbs their differences: reasoning deltas, missing
//! `usage`, HTML error pages from proxies, streams cut short.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::pace::{Change, Learnt, Pace, Permit};
use crate::llm::Messages;
use crate::llm::Usage;
use crate::llm::provider::TokenParam;
use crate::llm::provider::{ApiKey, Provider, display_url};

/// One choice of a completion, assembled from the stream or read whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    /// Its position among the choices.
    pub index: u32,
    /// The answer text (reasoning left out).
    pub content: String,
    /// Why the model stopped, when the server says.
    pub finish_reason: Option<String>,
}

/// A finished completion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// Sorted by index.
    pub choices: Vec<Choice>,
    /// Tokens, when the server reports them.
    pub usage: Option<Usage>,
}

/// Why an attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("HTTP {status}: {message}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    /// An error status.
    Status {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
        /// What to do about it, when aigcq knows.
        hint: Option<String>,
        /// How long the server asked to wait.
        retry_after: Option<Duration>,
    },
    #[error("HTTP {status}: the server sent an HTML page instead of JSON{}; is base_url right? It usually ends in /v1", title.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    /// An HTML page where JSON was expected (a proxy or a login page), with its title.
    Html {
        /// The HTTP status.
        status: u16,
        /// The page's title, if it has one.
        title: Option<String>,
    },
    #[error("{0}")]
    /// No answer: the connection failed or timed out.
    Transport(String),
    #[error("the stream ended before the answer was complete")]
    /// The stream ended before the answer was complete.
    EarlyEnd,
    #[error("the server reported an error in the stream: {0}")]
    /// An error the server sent inside the stream.
    InStream(String),
    #[error("invalid response: {0}")]
    /// A reply that is not what the API promises.
    Invalid(String),
    /// A successful status whose body is an error (`insufficient_quota`, …): final.
    #[error("the server answered with an error: {0}")]
    Refused(String),
    /// Nothing listens there, or the host cannot be reached: tried once more (a server may be
    /// starting), then final, with what to check.
    #[error("cannot connect to {url}: {cause}; is the server running? check base_url (aigcq config shows it)")]
    Unreachable {
        /// The URL, without its query.
        url: String,
        /// Why, as the system says it.
        cause: String,
    },
}

impl ApiError {
    /// Connection errors, timeouts, 408, 409, 429, 5xx, cut streams and errors inside a
    /// stream are worth another attempt; other client errors are not, nor is a server that
    /// asks to wait longer than [`MAX_RETRY_AFTER`].
    pub fn retryable(&self) -> bool {
        let status = |s: u16| matches!(s, 408 | 409 | 429) || s >= 500;
        if self.retry_after().is_some_and(|d| d > MAX_RETRY_AFTER) {
            return false;
        }
        match self {
            ApiError::Status { status: s, .. } | ApiError::Html { status: s, .. } => status(*s),
            ApiError::Transport(_) | ApiError::EarlyEnd | ApiError::InStream(_) | ApiError::Unreachable { .. } => true,
            ApiError::Invalid(_) | ApiError::Refused(_) => false,
        }
    }

    /// The same error with every text the server sent passed through `f`.
    fn map_text(self, f: impl Fn(&str) -> String) -> ApiError {
        match self {
            ApiError::Status {
                status,
                message,
                hint,
                retry_after,
            } => ApiError::Status {
                status,
                message: f(&message),
                hint: hint.map(|h| f(&h)),
                retry_after,
            },
            ApiError::Html { status, title } => ApiError::Html {
                status,
                title: title.map(|t| f(&t)),
            },
            ApiError::Transport(m) => ApiError::Transport(f(&m)),
            ApiError::EarlyEnd => ApiError::EarlyEnd,
            ApiError::InStream(m) => ApiError::InStream(f(&m)),
            ApiError::Invalid(m) => ApiError::Invalid(f(&m)),
            ApiError::Refused(m) => ApiError::Refused(f(&m)),
            ApiError::Unreachable { url, cause } => ApiError::Unreachable { url, cause: f(&cause) },
        }
    }

    /// A rate limit: 429, or 503 with `Retry-After`.
    fn rate_limited(&self) -> bool {
        match self.status() {
            Some(429) => true,
            Some(503) => self.retry_after().is_some(),
            _ => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, when the server answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } | ApiError::Html { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The longest `Retry-After` honoured; a server asking for more fails the question at once,
/// saying how long it asked for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// How long the server asks us to wait: `retry-after-ms` (OpenAI), or `Retry-After` in
/// seconds or as an HTTP date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    // A year is more than any server means; it also keeps the float conversion in range.
    let secs = |s: f64| (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s.min(3.2e7)));
    if let Some(ms) = get("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(|ms| secs(ms / 1000.0))
    {
        return Some(ms);
    }
    let v = get("retry-after")?;
    if let Ok(s) = v.parse::<f64>() {
        return secs(s);
    }
    let at = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<Value>,
    message: Option<String>,
    detail: Option<Value>,
}

/// The message of an error body in any of the shapes servers use.
fn error_message(body: &str) -> String {
    let text = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
    if let Ok(b) = serde_json::from_str::<ErrorBody>(body) {
        if let Some(e) = &b.error {
            if let Some(m) = e.get("message") {
                return text(m);
            }
            return text(e);
        }
        if let Some(m) = b.message.or_else(|| b.detail.as_ref().map(text)) {
            return m;
        }
    }
    let body = body.trim();
    let cut: String = body.chars().take(300).collect();
    if cut.is_empty() { "(empty body)".into() } else { cut }
}

fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    Some(body[start..end].trim().to_owned()).filter(|t| !t.is_empty())
}

/// The response's content type, lower-cased (empty when absent).
fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn looks_like_html(content_type: &str, body: &str) -> bool {
    content_type.contains("html") || body.trim_start().starts_with('<')
}

/// The body of a [`Client::call`].
pub enum Call {
    /// No body.
    Empty,
    /// A JSON body.
    Json(Value),
    /// A multipart file upload (`POST /files`).
    File {
        /// The file's purpose (`batch`).
        purpose: &'static str,
        /// The file's name.
        name: String,
        /// Its bytes.
        bytes: bytes::Bytes,
    },
}

/// The client for one run.
pub struct Client {
    http: reqwest::Client,
    /// `base_url` without a trailing slash.
    base: String,
    url: String,
    model: String,
    key_env: String,
    /// To redact the key from everything the server sends back.
    key: Option<ApiKey>,
    /// No data from the server for this long is a timeout.
    timeout: Duration,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    token_param: TokenParam,
    extra_body: Map<String, Value>,
    stream: bool,
    max_retries: u32,
    /// First backoff delay; doubled per attempt, with jitter.
    min_delay: Duration,
    /// How many attempts may be in flight, adapted to the server's rate limits.
    pace: Pace,
    concurrency: usize,
}

impl Client {
    /// Builds the client. The key goes into one header, marked sensitive so that no debug
    /// output of reqwest shows it.
    pub fn new(p: &Provider, model: &str, stream: bool) -> anyhow::Result<Client> {
        let mut headers = HeaderMap::new();
        for (k, v) in &p.headers {
            let name =
                HeaderName::try_from(k.as_str()).map_err(|e| anyhow::anyhow!("[provider] headers: {k:?}: {e}"))?;
            let mut value = HeaderValue::try_from(v.as_str())
                .map_err(|e| anyhow::anyhow!("[provider] headers: value of {k:?}: {e}"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if let Some(key) = &p.api_key {
            let mut value = HeaderValue::try_from(format!("Bearer {}", key.expose())).map_err(|_| {
                anyhow::anyhow!(
                    "the key in ${} holds characters a header cannot carry",
                    p.api_key_env.value
                )
            })?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("aigcq/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(p.timeout.value)
            .pool_max_idle_per_host(p.concurrency.value)
            .build()?;
        Ok(Client {
            http,
            base: p.base_url.value.trim_end_matches('/').to_owned(),
            url: format!("{}/chat/completions", p.base_url.value.trim_end_matches('/')),
            model: model.to_owned(),
            key_env: p.api_key_env.value.clone(),
            key: p.api_key.clone(),
            timeout: p.timeout.value,
            temperature: p.temperature.value,
            max_tokens: p.max_tokens.value,
            token_param: p.token_param.value,
            extra_body: p.extra_body.clone(),
            stream,
            max_retries: p.max_retries.value,
            min_delay: Duration::from_secs(1),
            pace: Pace::new(p.concurrency.value),
            concurrency: p.concurrency.value,
        })
    }

    /// Starts the concurrency window where an earlier run against this server ended.
    pub fn resuming(mut self, learnt: Learnt) -> Client {
        self.pace = Pace::resuming(self.concurrency, learnt);
        self
    }

    /// What this client learnt of the server's concurrency limit, for the next run.
    pub fn learnt(&self) -> Option<Learnt> {
        self.pace.learnt()
    }

    /// Sets the first backoff delay (tests and benchmarks use short ones).
    pub fn with_min_delay(mut self, d: Duration) -> Client {
        self.min_delay = d;
        self
    }

    /// The request body. `n` is only sent when above 1, because some servers reject it.
    pub fn body(&self, messages: &Messages, n: u32) -> Value {
        let msgs: Vec<Value> = messages
            .all()
            .into_iter()
            .map(|t| json!({"role": t.role, "content": t.content}))
            .collect();
        let mut body = json!({"model": self.model, "messages": msgs, "stream": self.stream});
        let obj = body.as_object_mut().expect("an object");
        if self.stream {
            obj.insert("stream_options".into(), json!({"include_usage": true}));
        }
        if n > 1 {
            obj.insert("n".into(), n.into());
        }
        if let Some(k) = &messages.cache_key {
            obj.insert("prompt_cache_key".into(), k.as_str().into());
        }
        if let Some(t) = self.temperature {
            obj.insert("temperature".into(), t.into());
        }
        if let Some(m) = self.max_tokens {
            obj.insert(self.token_param.as_str().into(), m.into());
        }
        for (k, v) in &self.extra_body {
            obj.insert(k.clone(), v.clone());
        }
        body
    }

    /// The request's parameters: its body without the messages.
    pub fn params(&self, n: u32) -> Map<String, Value> {
        let empty = Messages {
            system: None,
            user: String::new(),
            turns: Vec::new(),
            cache_key: None,
        };
        let mut body = self.body(&empty, n);
        let obj = body.as_object_mut().expect("an object");
        obj.remove("messages");
        std::mem::take(obj)
    }

    /// Sends a request with retries. `on_retry` hears each failed attempt that will be
    /// retried and the delay before the next.
    pub async fn complete(
        &self,
        messages: &Messages,
        n: u32,
        on_retry: impl FnMut(&ApiError, Duration),
    ) -> Result<Completion, ApiError> {
        self.complete_with(messages, n, on_retry, &|_, _| {}).await
    }

    /// [`Client::complete`], telling `on_delta` how many pieces of answer text have streamed
    /// in so far (about one token each), so that a slow model can be told from a hang, and the
    /// first choice's text so far.
    pub async fn complete_with(
        &self,
        messages: &Messages,
        n: u32,
        mut on_retry: impl FnMut(&ApiError, Duration),
        on_delta: &(dyn Fn(usize, &str) + Sync),
    ) -> Result<Completion, ApiError> {
        let body = self.body(messages, n);
        let backoff = self.backoff();
        // Set when the last attempt's rejection says its retry may wait for a place in the
        // window rather than for a backoff delay.
        let wait_for_place = std::sync::atomic::AtomicBool::new(false);
        let unreachable = std::sync::atomic::AtomicUsize::new(0);
        let mut got = (|| async {
            let permit = self.pace.acquire().await;
            let r = self
                .attempt(&body, on_delta, &permit)
                .await
                .map_err(|e| e.map_text(|t| self.redact(t)));
            let (change, paced) = match &r {
                Ok(_) => (permit.succeeded(), false),
                Err(e) if e.rate_limited() => {
                    let l = permit.limited();
                    (l.change, l.wait_for_place)
                }
                Err(_) => (None, false),
            };
            wait_for_place.store(paced, Ordering::Relaxed);
            if let Some(Change { from, to }) = change {
                tracing::debug!(from, to, "concurrency");
            }
            r
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e| again(e, &unreachable))
        .adjust(|e, d| {
            d.map(|d| {
                if wait_for_place.load(Ordering::Relaxed) {
                    return e.retry_after().unwrap_or(Duration::ZERO);
                }
                let d = e.retry_after().unwrap_or(d);
                if e.rate_limited() {
                    self.pace.hold(d);
                }
                d
            })
        })
        .notify(|e, d| on_retry(e, d))
        .await?;
        for c in &mut got.choices {
            if let std::borrow::Cow::Owned(clean) = self.redact_cow(&c.content) {
                c.content = clean;
            }
        }
        Ok(got)
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(Duration::from_secs(60))
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.max_retries as usize)
    }

    /// A call to another endpoint of the same API, `path` below the base URL (the Batch
    /// API's files and batches): the same key, retries and redaction as a completion. Returns
    /// the response, whose status is a success.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: &Call) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let unreachable = std::sync::atomic::AtomicUsize::new(0);
        (|| async {
            tracing::debug!(url = %display_url(&url), %method, "call");
            let mut req = self.http.request(method.clone(), &url);
            req = match body {
                Call::Empty => req,
                Call::Json(v) => req.json(v),
                Call::File { purpose, name, bytes } => {
                    let part = reqwest::multipart::Part::stream(bytes.clone())
                        .file_name(name.clone())
                        .mime_str("application/jsonl")
                        .map_err(transport)?;
                    req.multipart(
                        reqwest::multipart::Form::new()
                            .text("purpose", *purpose)
                            .part("file", part),
                    )
                }
            };
            let resp = req.send().await.map_err(|e| sending(&url, e))?;
            if resp.status().is_success() {
                return Ok(resp);
            }
            Err(self.error_of(resp).await.map_text(|t| self.redact(t)))
        })
        .retry(self.backoff())
        .sleep(tokio::time::sleep)
        .when(|e| again(e, &unreachable))
        .adjust(|e, d| d.map(|d| e.retry_after().unwrap_or(d)))
        .await
    }

    /// A chat completion this client's API sent as JSON by another way (a batch's output
    /// line), read and redacted as a reply to [`Client::complete`] is.
    pub fn completion_from(&self, body: &str) -> Result<Completion, ApiError> {
        let mut got = parse_whole(body).map_err(|e| e.map_text(|t| self.redact(t)))?;
        for c in &mut got.choices {
            if let std::borrow::Cow::Owned(clean) = self.redact_cow(&c.content) {
                c.content = clean;
            }
        }
        Ok(got)
    }

    /// The key redacted from `s`.
    pub fn redacted(&self, s: &str) -> String {
        self.redact(s)
    }

    /// [`Client::call`] answered with JSON.
    pub async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Call,
    ) -> Result<T, ApiError> {
        let text = body_text(self.call(method, path, body).await?).await?;
        serde_json::from_str(&text).map_err(|e| ApiError::Invalid(format!("{path}: {e}")))
    }

    fn redact_cow<'s>(&self, s: &'s str) -> std::borrow::Cow<'s, str> {
        match &self.key {
            Some(k) => k.redact(s),
            None => s.into(),
        }
    }

    fn redact(&self, s: &str) -> String {
        self.redact_cow(s).into_owned()
    }

    async fn attempt(
        &self,
        body: &Value,
        on_delta: &(dyn Fn(usize, &str) + Sync),
        permit: &Permit<'_>,
    ) -> Result<Completion, ApiError> {
        let authorization = if self.key.is_some() {
            "Bearer [redacted]"
        } else {
            "none"
        };
        tracing::debug!(url = %display_url(&self.url), model = %self.model, stream = self.stream, authorization, "POST");
        tracing::trace!(body = %body, "request body");
        let send = self.http.post(&self.url).json(body).send();
        tokio::pin!(send);
        // Not refused quickly is admitted, whether or not the status has come yet.
        let resp = tokio::select! {
            r = &mut send => r,
            () = tokio::time::sleep(self.pace.admit_after()) => {
                if let Some(Change { from, to }) = permit.admitted() {
                    tracing::debug!(from, to, "concurrency");
                }
                send.await
            }
        }
        .map_err(|e| sending(&self.url, e))?;
        let status = resp.status();
        tracing::debug!(status = status.as_u16(), "response");
        let content_type = content_type(&resp);
        if !status.is_success() {
            return Err(self.error_of(resp).await);
        }
        if let Some(Change { from, to }) = permit.admitted() {
            tracing::debug!(from, to, "concurrency");
        }
        if content_type.contains("text/event-stream") {
            let ceiling = self.max_tokens.is_none().then_some(ANSWER_CEILING);
            return read_stream(resp, self.timeout, ceiling, on_delta).await;
        }
        let text = body_text(resp).await?;
        if looks_like_html(&content_type, &text) {
            return Err(ApiError::Html {
                status: status.as_u16(),
                title: html_title(&text),
            });
        }
        // A server may ignore `stream: true`; a whole body is read the same way either way.
        if text.trim_start().starts_with("data:") {
            return parse_sse_text(&text);
        }
        parse_whole(&text)
    }

    /// The error an unsuccessful response carries.
    async fn error_of(&self, resp: reqwest::Response) -> ApiError {
        let status = resp.status();
        let content_type = content_type(&resp);
        let retry_after = parse_retry_after(resp.headers());
        let too_long = retry_after.filter(|d| *d > MAX_RETRY_AFTER).map(|d| {
            format!(
                "the server asks to wait {} s before trying again, longer than the {} s aigcq waits; try again later",
                d.as_secs(),
                MAX_RETRY_AFTER.as_secs()
            )
        });
        let text = body_text(resp).await.unwrap_or_default();
        if looks_like_html(&content_type, &text) {
            return ApiError::Html {
                status: status.as_u16(),
                title: html_title(&text),
            };
        }
        let message = error_message(&text);
        ApiError::Status {
            status: status.as_u16(),
            hint: too_long.or_else(|| self.hint(status.as_u16(), &message)),
            message,
            retry_after,
        }
    }

    /// What to do about an error status that retrying will not fix.
    fn hint(&self, status: u16, message: &str) -> Option<String> {
        let lower = message.to_ascii_lowercase();
        let other = match self.token_param {
            TokenParam::MaxTokens => TokenParam::MaxCompletionTokens,
            TokenParam::MaxCompletionTokens => TokenParam::MaxTokens,
        };
        match status {
            400 if self.max_tokens.is_some()
                && (lower.contains(self.token_param.as_str()) || lower.contains("unsupported_parameter")) =>
            {
                Some(format!(
                    "this server does not take `{}`: set token_param = \"{}\" in [provider]",
                    self.token_param.as_str(),
                    other.as_str()
                ))
            }
            401 if self.key.is_none() => Some(format!("no API key: set ${}", self.key_env)),
            401 => Some(format!("the key in ${} was rejected", self.key_env)),
            403 => Some(format!(
                "the key in ${} has no access to model {:?}",
                self.key_env, self.model
            )),
            404 => Some(format!(
                "unknown model {:?}, or a wrong base URL {} (it usually ends in /v1)",
                self.model,
                display_url(&self.url)
            )),
            _ => None,
        }
    }
}

/// [`transport`], an unreachable server named with the URL it was asked at.
fn sending(url: &str, e: reqwest::Error) -> ApiError {
    if e.is_connect() {
        let mut cause: &dyn std::error::Error = &e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        return ApiError::Unreachable {
            url: display_url(url),
            cause: cause.to_string(),
        };
    }
    transport(e)
}

/// Whether another attempt is worth it: a retryable error, and for an unreachable server
/// only the first time (`unreachable` counts them).
fn again(e: &ApiError, unreachable: &std::sync::atomic::AtomicUsize) -> bool {
    match e {
        ApiError::Unreachable { .. } => unreachable.fetch_add(1, Ordering::Relaxed) < 1,
        e => e.retryable(),
    }
}

fn transport(e: reqwest::Error) -> ApiError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "connection failed"
    };
    // Walk to the root cause: reqwest's own message is only "error sending request".
    let mut cause: &dyn std::error::Error = &e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    ApiError::Transport(format!("{what}: {cause}"))
}

#[derive(Deserialize)]
struct WholeChoice {
    #[serde(default)]
    index: u32,
    message: Option<WholeMessage>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WholeMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct WholeBody {
    #[serde(default)]
    choices: Vec<WholeChoice>,
    usage: Option<RawUsage>,
    error: Option<Value>,
}

/// `usage` as servers send it: any field may be missing. Cached prompt tokens come as
/// `prompt_tokens_details.cached_tokens` (OpenAI, Qwen, GLM), `prompt_cache_hit_tokens`
/// (DeepSeek) or a top-level `cached_tokens` (Moonshot).
#[derive(Deserialize, Clone, Copy)]
struct RawUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<PromptDetails>,
    prompt_cache_hit_tokens: Option<u64>,
    cached_tokens: Option<u64>,
}

#[derive(Deserialize, Clone, Copy)]
struct PromptDetails {
    cached_tokens: Option<u64>,
}

impl From<RawUsage> for Usage {
    fn from(u: RawUsage) -> Usage {
        Usage {
            prompt_tokens: u.prompt_tokens.unwrap_or(0),
            completion_tokens: u.completion_tokens.unwrap_or(0),
            cached_tokens: u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .or(u.prompt_cache_hit_tokens)
                .or(u.cached_tokens)
                .unwrap_or(0),
        }
    }
}

fn parse_whole(text: &str) -> Result<Completion, ApiError> {
    let body: WholeBody =
        serde_json::from_str(text).map_err(|e| ApiError::Invalid(format!("not a chat completion ({e})")))?;
    if let Some(e) = body.error {
        return Err(ApiError::Refused(error_message(&json!({ "error": e }).to_string())));
    }
    let mut choices: Vec<Choice> = body
        .choices
        .into_iter()
        .map(|c| Choice {
            index: c.index,
            content: c.message.and_then(|m| m.content).unwrap_or_default(),
            finish_reason: c.finish_reason,
        })
        .collect();
    choices.sort_by_key(|c| c.index);
    if choices.is_empty() {
        return Err(ApiError::Invalid("the response has no choices".into()));
    }
    Ok(Completion {
        choices,
        usage: body.usage.map(Usage::from),
    })
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<RawUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

/// Only `content` is read: `reasoning_content` and `reasoning` deltas never reach the answer.
#[derive(Deserialize)]
struct Delta {
    content: Option<String>,
}

/// Folds stream events into a completion.
#[derive(Default)]
struct Assembler {
    choices: BTreeMap<u32, Choice>,
    usage: Option<Usage>,
    done: bool,
    /// Pieces of answer text received.
    deltas: usize,
}

impl Assembler {
    /// Takes one event's data; `Ok(false)` once `[DONE]` arrived.
    fn feed(&mut self, data: &str) -> Result<bool, ApiError> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(true);
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(false);
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            ApiError::Invalid(format!(
                "bad stream event ({e}): {}",
                data.chars().take(120).collect::<String>()
            ))
        })?;
        if let Some(e) = chunk.error {
            return Err(ApiError::InStream(error_message(&json!({ "error": e }).to_string())));
        }
        for c in chunk.choices {
            let slot = self.choices.entry(c.index).or_insert_with(|| Choice {
                index: c.index,
                ..Choice::default()
            });
            if let Some(t) = c.delta.and_then(|d| d.content) {
                slot.content.push_str(&t);
                self.deltas += 1;
            }
            if c.finish_reason.is_some() {
                slot.finish_reason = c.finish_reason;
            }
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(u.into());
        }
        Ok(true)
    }

    /// The completion, unless the stream was cut: complete means every choice has a finish
    /// reason; `[DONE]` alone is not enough (a proxy may add it to a cut stream).
    fn finish(self) -> Result<Completion, ApiError> {
        if self.choices.is_empty() {
            return Err(if self.done {
                ApiError::Invalid("the stream has no choices".into())
            } else {
                ApiError::EarlyEnd
            });
        }
        // A stream is whole when every choice finished, or when it ended properly with some
        // finished: a proxy that does not know `n` finishes only the first of several, and
        // the caller keeps the finished ones.
        let finished = self.choices.values().filter(|c| c.finish_reason.is_some()).count();
        if finished == 0 || (finished < self.choices.len() && !self.done) {
            return Err(ApiError::EarlyEnd);
        }
        Ok(Completion {
            choices: self.choices.into_values().collect(),
            usage: self.usage,
        })
    }
}

/// The most answer text read per choice when the request sets no `max_tokens`: a stream
/// that never finishes is cut here and its answer marked truncated (`finish_reason =
/// "length"`), as the server would with a limit.
pub const ANSWER_CEILING: usize = 256 << 10;

/// The largest whole (non-streamed) body read: a completion or an error is far smaller.
const MAX_BODY: usize = 32 << 20;

/// A whole response body, read up to [`MAX_BODY`].
async fn body_text(resp: reqwest::Response) -> Result<String, ApiError> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.map_err(transport)?);
        if body.len() > MAX_BODY {
            return Err(ApiError::Invalid(format!(
                "the reply is larger than {} MiB",
                MAX_BODY >> 20
            )));
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

async fn read_stream(
    resp: reqwest::Response,
    timeout: Duration,
    ceiling: Option<usize>,
    on_delta: &(dyn Fn(usize, &str) + Sync),
) -> Result<Completion, ApiError> {
    let mut events = Box::pin(whole_lines(Box::pin(resp.bytes_stream()))).eventsource();
    let mut acc = Assembler::default();
    while let Some(event) = events.next().await {
        let event = event.map_err(|e| match e {
            EventStreamError::Transport(t) if t.is_timeout() => ApiError::Transport(format!(
                "timed out: the server sent nothing for {} s in the middle of the answer",
                timeout.as_secs_f64()
            )),
            EventStreamError::Transport(t) => {
                tracing::debug!(error = %t, "stream broke");
                ApiError::EarlyEnd
            }
            other => ApiError::Invalid(other.to_string()),
        })?;
        let before = acc.deltas;
        if !acc.feed(&event.data)? {
            break;
        }
        if let Some(max) = ceiling
            && acc.choices.values().any(|c| c.content.len() > max)
        {
            tracing::debug!(max, "answer ceiling reached with no max_tokens set");
            for c in acc.choices.values_mut() {
                c.finish_reason.get_or_insert_with(|| "length".into());
            }
            break;
        }
        if acc.deltas != before {
            on_delta(
                acc.deltas,
                acc.choices.values().next().map_or("", |c| c.content.as_str()),
            );
        }
    }
    acc.finish()
}

/// The byte stream regrouped into pieces that end at a line end: the event parser re-reads
/// its buffer on every piece, so a long line arriving in many small pieces would cost time
/// quadratic in its length. Here each byte is looked at once.
fn whole_lines<S, B, E>(inner: S) -> impl futures_util::Stream<Item = Result<Vec<u8>, E>>
where
    S: futures_util::Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    futures_util::stream::unfold((inner, Vec::new(), false), |(mut inner, mut buf, done)| async move {
        if done {
            return None;
        }
        loop {
            match inner.next().await {
                Some(Ok(chunk)) => match memchr::memrchr(b'\n', chunk.as_ref()) {
                    Some(i) => {
                        let chunk = chunk.as_ref();
                        buf.extend_from_slice(&chunk[..=i]);
                        let piece = std::mem::replace(&mut buf, chunk[i + 1..].to_vec());
                        return Some((Ok(piece), (inner, buf, false)));
                    }
                    None => buf.extend_from_slice(chunk.as_ref()),
                },
                Some(Err(e)) => return Some((Err(e), (inner, buf, true))),
                None if buf.is_empty() => return None,
                None => return Some((Ok(std::mem::take(&mut buf)), (inner, buf, true))),
            }
        }
    })
}

/// A whole body in SSE format (a server that streamed although the client did not listen).
fn parse_sse_text(text: &str) -> Result<Completion, ApiError> {
    let mut acc = Assembler::default();
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data:")
            && !acc.feed(data)?
        {
            break;
        }
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_prompt_tokens_are_read_in_each_providers_spelling() {
        for (usage, cached) in [
            (
                r#"{"prompt_tokens":9,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":6}}"#,
                6,
            ),
            (
                r#"{"prompt_tokens":9,"completion_tokens":1,"prompt_cache_hit_tokens":5,"prompt_cache_miss_tokens":4}"#,
                5,
            ),
            (r#"{"prompt_tokens":9,"completion_tokens":1,"cached_tokens":4}"#, 4),
            (
                r#"{"prompt_tokens":9,"completion_tokens":1,"prompt_tokens_details":null}"#,
                0,
            ),
        ] {
            let body = format!(r#"{{"choices":[{{"message":{{"content":"答"}}}}],"usage":{usage}}}"#);
            let u = parse_whole(&body).unwrap().usage.unwrap();
            assert_eq!((u.prompt_tokens, u.cached_tokens), (9, cached), "{usage}");
        }
    }

    #[test]
    fn streams_keep_reasoning_out_and_detect_cuts() {
        let mut a = Assembler::default();
        a.feed(r#"{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"hmm"}}]}"#)
            .unwrap();
        a.feed(r#"{"choices":[{"index":0,"delta":{"content":"答"}}]}"#).unwrap();
        a.feed(r#"{"choices":[{"index":1,"delta":{"content":"B"},"finish_reason":"length"}]}"#)
            .unwrap();
        a.feed(r#"{"choices":[{"index":0,"delta":{"content":"案"},"finish_reason":"stop"}]}"#)
            .unwrap();
        a.feed(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#)
            .unwrap();
        let c = a.finish().unwrap();
        assert_eq!(c.choices[0].content, "答案");
        assert_eq!(c.choices[1].finish_reason.as_deref(), Some("length"));
        assert_eq!(c.usage.unwrap().completion_tokens, 4);

        let mut cut = Assembler::default();
        cut.feed(r#"{"choices":[{"index":0,"delta":{"content":"half"}}]}"#)
            .unwrap();
        assert!(matches!(cut.finish(), Err(ApiError::EarlyEnd)));
    }

    #[test]
    fn error_bodies_in_every_shape() {
        assert_eq!(
            error_message(r#"{"error":{"message":"bad key","type":"x"}}"#),
            "bad key"
        );
        assert_eq!(error_message(r#"{"error":"model not found"}"#), "model not found");
        assert_eq!(error_message(r#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(error_message(""), "(empty body)");
        assert_eq!(
            html_title("<html><TITLE> 502 Bad Gateway </TITLE>"),
            Some("502 Bad Gateway".into())
        );
    }

    #[test]
    fn retry_after_in_seconds_milliseconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(1500)));
        let mut d = HeaderMap::new();
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&later)
            .unwrap();
        d.insert("retry-after", HeaderValue::try_from(date).unwrap());
        let wait = parse_retry_after(&d).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        // A wait beyond what aigcq honours is kept as asked, and fails at once.
        d.insert("retry-after", HeaderValue::from_static("99999"));
        assert_eq!(parse_retry_after(&d), Some(Duration::from_secs(99999)));
        let long = ApiError::Status {
            status: 429,
            message: String::new(),
            hint: None,
            retry_after: parse_retry_after(&d),
        };
        assert!(!long.retryable());
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let s = |status| ApiError::Status {
            status,
            message: String::new(),
            hint: None,
            retry_after: None,
        };
        for st in [408, 409, 429, 500, 502, 503] {
            assert!(s(st).retryable(), "{st}");
        }
        for st in [400, 401, 403, 404, 422] {
            assert!(!s(st).retryable(), "{st}");
        }
        assert!(ApiError::EarlyEnd.retryable());
        assert!(!ApiError::Invalid(String::new()).retryable());
    }
}
