//! `aigcq review --web`: the review in the browser, a second front end over the engine's
//! review session (the terminal is the first). A small axum server on 127.0.0.1 turns each
//! request into a [`Request`] for the thread that owns the session, which answers with a whole
//! page: every decision goes through [`Session::apply`] (chapter lock, merge check, ledger,
//! undo), exactly as a key of the terminal review does.
//!
//! Security: a secret token in the printed address, kept in an HttpOnly, SameSite=Strict
//! cookie; the Host must be the page's own (DNS rebinding); a change is a POST whose Origin is
//! the page's; a Content-Security-Policy allows only the page's own script; every draft is
//! rendered through a sanitiser ([`render`]). No asset comes from the network.

mod page;
mod render;

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::{Form, Path as UrlPath, Query, RawQuery, Request as HttpRequest, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;

use super::interactive::Hooks;
use aigcq::cost::Price;
use aigcq::review::session::{Session, Tally};
use aigcq::review::{Checked, Review};
use aigcq::store::Draft;
pub use page::{BulkForm, OpForm, QueueQuery, ReviewQuery};

/// How the page is served.
pub struct Options<'a> {
    /// The port; 0 takes a free one.
    pub port: u16,
    /// Open the page in a browser.
    pub open: bool,
    /// Prices by model, for the dashboard's spend.
    pub prices: &'a std::collections::BTreeMap<String, Price>,
}

/// What the page asks of the session's thread.
#[derive(Debug)]
pub enum Request {
    Home,
    Review(ReviewQuery),
    Queue(QueueQuery, Option<String>),
    Op(OpForm),
    Bulk(BulkForm),
    Preview(String),
    Asset(String),
}

/// The session thread's answer.
pub struct Reply {
    status: StatusCode,
    kind: &'static str,
    body: Vec<u8>,
    /// Where a POST sends the browser next (303).
    location: Option<String>,
}

impl Reply {
    fn html(body: String) -> Reply {
        Reply {
            status: StatusCode::OK,
            kind: "text/html; charset=utf-8",
            body: body.into_bytes(),
            location: None,
        }
    }

    fn see(location: impl Into<String>) -> Reply {
        Reply {
            status: StatusCode::SEE_OTHER,
            kind: "text/plain; charset=utf-8",
            body: Vec::new(),
            location: Some(location.into()),
        }
    }

    fn status(status: StatusCode, why: &str) -> Reply {
        Reply {
            status,
            kind: "text/plain; charset=utf-8",
            body: why.as_bytes().to_vec(),
            location: None,
        }
    }
}

type Job = (Request, oneshot::Sender<Reply>);

/// A revision the model is writing (feedback, `f`): the server answers the page's questions
/// about it while the session's thread waits for the model.
#[derive(Debug, Default)]
pub struct Writing {
    started: Option<std::time::Instant>,
    /// Pieces of the answer received (about one token each).
    tokens: usize,
    /// The answer so far.
    text: String,
    /// The last retry, for people.
    retrying: Option<String>,
}

impl Writing {
    /// Takes in a piece of the revision's progress.
    fn event(&mut self, e: &aigcq::draft::Event) {
        match e {
            aigcq::draft::Event::Receiving { deltas, text, .. } => {
                self.tokens = *deltas;
                // The answer only grows: each piece is copied once, not the whole text again.
                match text.get(self.text.len()..) {
                    Some(new) => self.text.push_str(new),
                    None => (*text).clone_into(&mut self.text),
                }
            }
            aigcq::draft::Event::Retrying { error, delay, .. } => {
                self.retrying = Some(format!("{error}; trying again in {} s", delay.as_secs()));
            }
            _ => {}
        }
    }

    fn json(&self) -> String {
        serde_json::json!({
            "active": self.started.is_some(),
            "seconds": self.started.map_or(0, |s| s.elapsed().as_secs()),
            "tokens": self.tokens,
            "text": self.text,
            "retrying": self.retrying,
        })
        .to_string()
    }
}

/// The revision in progress, shared by the session's thread and the server.
pub type Progress = Arc<Mutex<Writing>>;

#[derive(Clone)]
struct Server {
    jobs: mpsc::Sender<Job>,
    token: String,
    port: u16,
    writing: Progress,
}

/// Serves the review of `checked` (pending drafts, in order) until Ctrl-C or SIGTERM; the
/// session's tally.
pub fn run(
    review: &Review,
    checked: Vec<Checked>,
    pending: &[Draft],
    cwd: &Path,
    hooks: &Hooks,
    options: &Options,
) -> Result<Tally> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", options.port))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let token = secret()?;
    let url = format!("http://127.0.0.1:{port}/?token={token}");
    let (jobs, inbox) = mpsc::channel::<Job>();
    let writing = Progress::default();
    let server = Server {
        jobs,
        token,
        port,
        writing: writing.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("review-web".into())
        .spawn(move || serve(listener, server))?;
    super::output::review::web_address(&url);
    if options.open {
        open_browser(&url);
    }
    let mut page = page::Page::new(
        review,
        Session::new(review, checked, pending),
        cwd,
        hooks,
        options,
        writing,
    )?;
    // The session lives here; the server hands over each request and waits for its page.
    for (request, reply) in inbox {
        let _ = reply.send(page.answer(request));
    }
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("the page's server stopped unexpectedly"))??;
    Ok(page.finish())
}

/// A random secret for the page's address.
fn secret() -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random numbers for the page's token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Opens `url` in the desktop's browser, when there is a desktop.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        Some("open")
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        Some("xdg-open")
    } else {
        None
    };
    if let Some(opener) = opener {
        let _ = std::process::Command::new(opener)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
}

fn serve(listener: TcpListener, server: Server) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = Router::new()
            .route("/", get(home))
            .route("/review", get(review_page))
            .route("/queue", get(queue_page))
            .route("/op", post(operate))
            .route("/bulk", post(bulk))
            .route("/preview", post(preview))
            .route("/progress", get(progress))
            .route("/asset/{*path}", get(asset))
            .route("/static/{name}", get(static_file))
            .layer(middleware::from_fn_with_state(server.clone(), guard))
            .with_state(server);
        axum::serve(listener, app).with_graceful_shutdown(stopped()).await?;
        Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The cookie that carries the token after the first visit; named by port, as browsers keep
/// cookies per host, not per port.
fn cookie_name(port: u16) -> String {
    format!("aigcq-{port}")
}

/// Equal without telling how much of it matched.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Every request passes here: the Host, the token (from the address once, then the
/// cookie), the Origin of a change; every answer gets the page's security headers.
async fn guard(State(server): State<Server>, request: HttpRequest, next: Next) -> Response {
    let mut response = check(&server, request, next).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // `no-referrer` would make a form's Origin `null`; the page's own requests need it.
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn check(server: &Server, request: HttpRequest, next: Next) -> Response {
    let own = [
        format!("127.0.0.1:{}", server.port),
        format!("localhost:{}", server.port),
    ];
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !own.iter().any(|o| o == host) {
        return (
            StatusCode::FORBIDDEN,
            "this page answers only at 127.0.0.1 or localhost",
        )
            .into_response();
    }
    let given = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .map(str::to_owned)
    });
    if let Some(given) = given {
        if !same_secret(&given, &server.token) {
            return (StatusCode::FORBIDDEN, "wrong token: open the address aigcq printed").into_response();
        }
        // The token goes into the cookie and out of the address bar and the history.
        let mut response = (StatusCode::SEE_OTHER, "").into_response();
        let cookie = format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            cookie_name(server.port),
            server.token
        );
        let headers = response.headers_mut();
        headers.insert(
            header::LOCATION,
            HeaderValue::from_str(request.uri().path()).unwrap_or(HeaderValue::from_static("/")),
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, v);
        }
        return response;
    }
    if !has_cookie(request.headers(), &cookie_name(server.port), &server.token) {
        return (
            StatusCode::UNAUTHORIZED,
            "no token: open the address aigcq review --web printed (it holds ?token=…)",
        )
            .into_response();
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !own.iter().any(|o| origin == format!("http://{o}")) {
            return (StatusCode::FORBIDDEN, "a change must come from the page itself").into_response();
        }
    }
    next.run(request).await
}

fn has_cookie(headers: &HeaderMap, name: &str, token: &str) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .any(|(n, v)| n == name && same_secret(v, token))
}

/// Hands `request` to the session's thread and turns its reply into a response.
async fn ask(server: &Server, request: Request) -> Response {
    let (tx, rx) = oneshot::channel();
    if server.jobs.send((request, tx)).is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the review has ended").into_response();
    }
    let Ok(reply) = rx.await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the review has ended").into_response();
    };
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.kind));
    if let Some(to) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, to);
    }
    response
}

async fn home(State(s): State<Server>) -> Response {
    ask(&s, Request::Home).await
}

async fn review_page(State(s): State<Server>, Query(q): Query<ReviewQuery>) -> Response {
    ask(&s, Request::Review(q)).await
}

async fn queue_page(State(s): State<Server>, Query(q): Query<QueueQuery>, RawQuery(raw): RawQuery) -> Response {
    ask(&s, Request::Queue(q, raw)).await
}

async fn operate(State(s): State<Server>, Form(f): Form<OpForm>) -> Response {
    ask(&s, Request::Op(f)).await
}

async fn bulk(State(s): State<Server>, Form(pairs): Form<Vec<(String, String)>>) -> Response {
    // Repeated `id` fields: read as pairs, which serde_urlencoded keeps in order.
    match BulkForm::from_pairs(pairs) {
        Some(f) => ask(&s, Request::Bulk(f)).await,
        None => (
            StatusCode::BAD_REQUEST,
            "a bulk decision names an action and its drafts",
        )
            .into_response(),
    }
}

async fn preview(State(s): State<Server>, body: String) -> Response {
    ask(&s, Request::Preview(body)).await
}

/// Answered here, not by the session's thread, which waits for the model meanwhile.
async fn progress(State(s): State<Server>) -> Response {
    let json = s.writing.lock().unwrap_or_else(|p| p.into_inner()).json();
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

async fn asset(State(s): State<Server>, UrlPath(path): UrlPath<String>) -> Response {
    ask(&s, Request::Asset(path)).await
}

async fn static_file(UrlPath(name): UrlPath<String>) -> Response {
    let (kind, body) = match name.as_str() {
        "app.js" => ("text/javascript; charset=utf-8", include_str!("app.js")),
        "style.css" => ("text/css; charset=utf-8", include_str!("style.css")),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}
