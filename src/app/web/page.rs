//! The pages, made on the thread that owns the review session: the dashboard (home), the
//! question view, the queue. Each request becomes data for a template; every text that comes
//! from a draft, a chapter or a server is escaped by the templates or sanitised by
//! [`render`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use axum::http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use super::{Options, Progress, Reply, Request, Writing, render};
use crate::app::interactive::Hooks;
use aigcq::chapter::{Chapter, GapKind};
use aigcq::review::diff;
use aigcq::review::merge::{Edit, State};
use aigcq::review::session::{Operation, Outcome, Session, Tally};
use aigcq::review::{self, Checked, Review};
use aigcq::scan;
use aigcq::store;

/// What a question view shows: `view=diff` the chapter's diff (default: the rendered
/// answer), `show=context|prompt` what the terminal's `c` and `i` show, `compare` every
/// candidate side by side, `edit`/`feedback` their forms.
#[derive(Debug, Default, Deserialize)]
pub struct ReviewQuery {
    #[serde(default)]
    view: Option<String>,
    #[serde(default)]
    show: Option<String>,
    #[serde(default)]
    compare: Option<String>,
    #[serde(default)]
    edit: Option<String>,
    #[serde(default)]
    feedback: Option<String>,
}

/// The queue's filter and order.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct QueueQuery {
    /// Lowest and highest score shown; unscored drafts are left out when either is set,
    /// `unscored` shows only them.
    #[serde(default)]
    min_score: Option<String>,
    #[serde(default)]
    max_score: Option<String>,
    #[serde(default)]
    unscored: Option<String>,
    /// `none`: drafts without a warning or caution; `some`: only those with one.
    #[serde(default)]
    warnings: Option<String>,
    /// Part of the chapter's path.
    #[serde(default)]
    chapter: Option<String>,
    /// `score`, `warnings` or `chapter` (the default).
    #[serde(default)]
    sort: Option<String>,
    /// `accept` or `reject`: ask to confirm that for the filtered drafts.
    #[serde(default)]
    confirm: Option<String>,
}

/// An operation as the page's forms post it.
#[derive(Debug, Deserialize)]
pub struct OpForm {
    op: String,
    #[serde(default)]
    n: Option<String>,
    /// Which candidate of the question (1-based) an accept takes, from the side-by-side view.
    #[serde(default)]
    k: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// A bulk decision: `accept` or `reject`, and the drafts.
#[derive(Debug)]
pub struct BulkForm {
    action: String,
    ids: Vec<String>,
    back: String,
}

impl BulkForm {
    /// From the pairs of `action=…&id=…&id=…&back=…`, as axum's `Form` decodes them.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Option<BulkForm> {
        let mut form = BulkForm {
            action: String::new(),
            ids: Vec::new(),
            back: String::new(),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "action" => form.action = v,
                "id" => form.ids.push(v),
                "back" => form.back = v,
                _ => {}
            }
        }
        (matches!(form.action.as_str(), "accept" | "reject") && !form.ids.is_empty()).then_some(form)
    }
}

/// What a path segment keeps unencoded.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'&')
    .add(b'\'');

/// The images a page may show from the content folder, and the most it reads of one.
const IMAGES: [(&str, &str); 6] = [
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("svg", "image/svg+xml"),
];
const IMAGE_LIMIT: u64 = 20 << 20;

/// A candidate as a template shows it.
#[derive(Serialize)]
struct Candidate {
    id: String,
    k: usize,
    model: String,
    created: String,
    score: Option<u8>,
    reasons: Option<String>,
    judge: Option<String>,
    warnings: Vec<String>,
    cautions: Vec<String>,
    problem: Option<String>,
    merged: bool,
    rewrite: bool,
    references: Vec<String>,
    html: String,
    body: String,
    /// Against the candidate it revises, else the question's first (side by side).
    against: Option<String>,
    parent: Option<String>,
    feedback: Option<String>,
}

/// A pending draft in the queue.
#[derive(Serialize)]
struct QueueRow {
    id: String,
    file: String,
    index: usize,
    question: String,
    kind: String,
    model: String,
    score: Option<u8>,
    warnings: Vec<String>,
    stale: bool,
    candidate: u32,
    candidates: u32,
}

pub struct Page<'a> {
    review: &'a Review<'a>,
    session: Session<'a>,
    cwd: &'a Path,
    hooks: &'a Hooks<'a>,
    prices: &'a BTreeMap<String, aigcq::cost::Price>,
    env: Environment<'static>,
    /// What the last operation did, shown on the next page: (class, text).
    said: Vec<(&'static str, String)>,
    writing: Progress,
}

impl<'a> Page<'a> {
    pub fn new(
        review: &'a Review<'a>,
        session: Session<'a>,
        cwd: &'a Path,
        hooks: &'a Hooks<'a>,
        options: &'a Options,
        writing: Progress,
    ) -> anyhow::Result<Page<'a>> {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("home.html", include_str!("templates/home.html")),
            ("review.html", include_str!("templates/review.html")),
            ("queue.html", include_str!("templates/queue.html")),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Page {
            review,
            session,
            cwd,
            hooks,
            prices: options.prices,
            env,
            said: Vec::new(),
            writing,
        })
    }

    pub fn finish(self) -> Tally {
        self.session.finish()
    }

    pub fn answer(&mut self, request: Request) -> Reply {
        // Drafts another review or a script decided meanwhile leave the queue first.
        let gone = self.session.refresh();
        if gone > 0 {
            self.said.push((
                "note",
                format!("{gone} draft(s) were decided elsewhere (another review or a script) and left this review"),
            ));
        }
        let page = match request {
            Request::Home => self.home(),
            Request::Review(q) => self.question(&q),
            Request::Queue(q, raw) => self.queue(&q, raw.as_deref().unwrap_or("")),
            Request::Op(form) => return self.operate(form),
            Request::Bulk(form) => return self.bulk(form),
            Request::Preview(body) => return Reply::html(render::markdown(&body, &self.assets_of_current())),
            Request::Asset(path) => return self.asset(&path),
        };
        match page {
            Ok(html) => Reply::html(html),
            Err(e) => Reply::status(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}")),
        }
    }

    fn said(&mut self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut self.said)
    }

    fn home(&mut self) -> anyhow::Result<String> {
        let (files, _) = scan::chapter_paths(&[self.review.content.to_path_buf()]);
        let mut chapters = Vec::new();
        let mut gaps: BTreeMap<String, usize> = BTreeMap::new();
        for path in &files {
            let Ok(text) = scan::read_chapter(path) else { continue };
            let chapter = Chapter::parse(&text, self.review.rules);
            let total = chapter.questions.iter().filter(|q| !q.group).count();
            let open: Vec<GapKind> = chapter.questions.iter().filter_map(|q| q.gap).collect();
            for kind in &open {
                *gaps.entry(kind.to_string()).or_default() += 1;
            }
            if total > 0 {
                chapters.push(context! {
                    name => scan::chapter_name(path, self.review.content),
                    answered => total - open.len(),
                    total => total,
                    percent => (total - open.len()) * 100 / total,
                });
            }
        }
        let pending = self.session.pending();
        let mut bands: BTreeMap<&str, usize> = BTreeMap::new();
        let (mut prompt, mut completion, mut cost, mut currency) = (0u64, 0u64, 0.0, None);
        for d in pending {
            let band = match d.meta.score {
                None => "unscored",
                Some(8..) => "8–10",
                Some(5..=7) => "5–7",
                Some(_) => "1–4",
            };
            *bands.entry(band).or_default() += 1;
            if let Some(u) = d.meta.usage {
                prompt += u.prompt_tokens;
                completion += u.completion_tokens;
                if let Some(price) = self.prices.get(&d.meta.model) {
                    cost += price.cost(&u, d.meta.batch.is_some());
                    currency.get_or_insert(price);
                }
            }
        }
        let spend = currency.map(|p| p.format(cost));
        let pending = pending.len();
        let said = self.said();
        Ok(self.env.get_template("home.html")?.render(context! {
            page => "home",
            said => said,
            chapters => chapters,
            gaps => gaps,
            bands => bands,
            pending => pending,
            prompt_tokens => prompt,
            completion_tokens => completion,
            spend => spend,
        })?)
    }

    /// The folder of the current draft's chapter as the page serves it, for its images.
    fn assets_of_current(&self) -> String {
        if self.session.position().0 >= self.session.questions() || self.session.candidates() == 0 {
            return "/asset/".into();
        }
        assets_of(&self.session.current().draft.meta.chapter)
    }

    fn candidate(&self, c: &Checked, k: usize, base: Option<&str>) -> Candidate {
        let m = &c.draft.meta;
        let problem = match &c.state {
            Ok(State::Stale(s)) => Some(format!("stale: {}", s.reason())),
            Err(e) => Some(e.clone()),
            _ => None,
        };
        Candidate {
            id: c.draft.id.clone(),
            k: k + 1,
            model: m.model.clone(),
            created: m.created.clone(),
            score: m.score,
            reasons: m.reasons.clone(),
            judge: m.judge.clone(),
            warnings: m.warnings.iter().map(ToString::to_string).collect(),
            cautions: c.cautions(),
            problem,
            merged: matches!(c.state, Ok(State::Merged)),
            rewrite: m.rewrite,
            references: m
                .references
                .iter()
                .map(|r| {
                    format!(
                        "{} ({} chars{})",
                        r.source,
                        r.chars,
                        if r.truncated { ", cut" } else { "" }
                    )
                })
                .collect(),
            html: render::markdown(&c.draft.body, &assets_of(&m.chapter)),
            body: c.draft.body.clone(),
            against: base.filter(|f| *f != c.draft.body).map(|f| {
                let edit = Edit {
                    range: 0..f.len(),
                    text: c.draft.body.clone(),
                    order: 0,
                };
                render::diff(&diff::hunks(f, &edit, diff::CONTEXT))
            }),
            parent: m.parent.clone(),
            feedback: m.feedback.clone(),
        }
    }

    fn question(&mut self, q: &ReviewQuery) -> anyhow::Result<String> {
        let said = self.said();
        let Some((n, k)) = self.session.settle() else {
            return Ok(self.env.get_template("review.html")?.render(context! {
                page => "review", said => said, done => true,
            })?);
        };
        let of = self.session.candidates();
        let current = self.session.current().clone();
        let m = &current.draft.meta;
        let first = self.session.candidate(0).draft.body.clone();
        let compare = q.compare.is_some();
        let candidates: Vec<Candidate> = if compare {
            // A revision against the candidate it revises, the others against the first.
            let body_of = |id: &str| {
                (0..of)
                    .map(|i| self.session.candidate(i))
                    .find(|c| c.draft.id == id)
                    .map(|c| c.draft.body.clone())
            };
            (0..of)
                .map(|i| {
                    let c = self.session.candidate(i);
                    let base = c
                        .draft
                        .meta
                        .parent
                        .as_deref()
                        .and_then(body_of)
                        .unwrap_or_else(|| first.clone());
                    self.candidate(c, i, Some(&base))
                })
                .collect()
        } else {
            vec![self.candidate(&current, k, None)]
        };
        let diff_html = match (q.view.as_deref(), &current.file) {
            (Some("diff"), Some(path)) => Some(match scan::read_chapter(path) {
                Ok(text) => match review::preview(&text, &current.draft, self.review.rules) {
                    Ok(hunks) => render::diff(&hunks),
                    Err(e) => format!("<p class=\"error\">{}</p>", render::escape(&e.to_string())),
                },
                Err(e) => format!("<p class=\"error\">{}</p>", render::escape(&e.to_string())),
            }),
            _ => None,
        };
        let neighbours = match (q.show.as_deref(), &current.file) {
            (Some("context"), Some(path)) => {
                let text = scan::read_chapter(path)?;
                let chapter = Chapter::parse(&text, self.review.rules);
                review::neighbours(&chapter, m.into())
                    .into_iter()
                    .map(|(index, question, answer)| {
                        context! { index, question, html => render::markdown(&answer, &assets_of(&m.chapter)) }
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let prompt = match q.show.as_deref() {
            Some("prompt") => match store::read_prompt(&current.draft.path) {
                Ok(Some(p)) => Some(
                    p.messages
                        .iter()
                        .map(|t| context! { role => t.role.clone(), content => t.content.trim_end().to_owned() })
                        .collect::<Vec<_>>(),
                ),
                Ok(None) => Some(Vec::new()),
                Err(e) => {
                    self.said.push(("error", format!("{e:#}")));
                    None
                }
            },
            _ => None,
        };
        let file = current
            .file
            .as_ref()
            .map_or_else(|| m.chapter.clone(), |f| scan::display_path(f, self.cwd));
        let caution = self.session.caution();
        Ok(self.env.get_template("review.html")?.render(context! {
            page => "review",
            said => said,
            done => false,
            n => n + 1,
            total => self.session.questions(),
            k => k + 1,
            of => of,
            file => file,
            index => m.index,
            kind => if m.rewrite { "rewrite".to_owned() } else { m.kind.to_string() },
            question => m.question.clone(),
            candidates => Value::from(Serde(&candidates)),
            compare => compare,
            diff => diff_html,
            neighbours => neighbours,
            context_asked => q.show.as_deref() == Some("context"),
            prompt => prompt,
            editing => q.edit.is_some(),
            feedback => q.feedback.is_some(),
            caution => caution,
        })?)
    }

    fn queue(&mut self, q: &QueueQuery, raw: &str) -> anyhow::Result<String> {
        let checked = self.session.checked();
        let score = |s: &Option<String>| s.as_deref().and_then(|s| s.trim().parse::<u8>().ok());
        let (min, max) = (score(&q.min_score), score(&q.max_score));
        let rows: Vec<QueueRow> = review::rows(&checked, self.cwd)
            .into_iter()
            .filter(|r| match (min, max) {
                _ if q.unscored.is_some() => r.score.is_none(),
                (None, None) => true,
                _ => r
                    .score
                    .is_some_and(|s| min.is_none_or(|m| s >= m) && max.is_none_or(|m| s <= m)),
            })
            .filter(|r| {
                let flagged = !r.warnings.is_empty() || r.stale || r.truncated || r.filtered || r.problem.is_some();
                match q.warnings.as_deref() {
                    Some("none") => !flagged,
                    Some("some") => flagged,
                    _ => true,
                }
            })
            .filter(|r| {
                q.chapter
                    .as_deref()
                    .is_none_or(|c| c.is_empty() || r.chapter.contains(c))
            })
            .map(|r| QueueRow {
                id: r.id.to_owned(),
                file: r.file.clone(),
                index: r.index,
                question: r.question.to_owned(),
                kind: r.kind.to_string(),
                model: r.model.to_owned(),
                score: r.score,
                warnings: r
                    .warnings
                    .iter()
                    .map(|w| w.code.clone())
                    .chain(r.stale.then(|| "stale".to_owned()))
                    .chain(r.truncated.then(|| "truncated".to_owned()))
                    .chain(r.filtered.then(|| "filtered".to_owned()))
                    .collect(),
                stale: r.stale,
                candidate: r.candidate,
                candidates: r.candidates,
            })
            .collect();
        let mut rows = rows;
        match q.sort.as_deref() {
            Some("score") => rows.sort_by_key(|r| std::cmp::Reverse(r.score)),
            Some("warnings") => rows.sort_by_key(|r| std::cmp::Reverse(r.warnings.len())),
            _ => {}
        }
        // Accepting two candidates of one question is no choice: the first in the list wins,
        // and the bulk accept rejects its siblings as `a` does.
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut winners = Vec::new();
        for r in &rows {
            let question = format!("{}#{}", r.file, r.index);
            if seen.insert(question, 1).is_none() {
                winners.push(r.id.clone());
            }
        }
        let back = raw
            .split('&')
            .filter(|p| !p.starts_with("confirm="))
            .collect::<Vec<_>>()
            .join("&");
        let said = self.said();
        Ok(self.env.get_template("queue.html")?.render(context! {
            page => "queue",
            said => said,
            rows => Value::from(Serde(&rows)),
            winners => winners,
            min_score => q.min_score.clone().unwrap_or_default(),
            max_score => q.max_score.clone().unwrap_or_default(),
            unscored => q.unscored.is_some(),
            warnings => q.warnings.clone().unwrap_or_default(),
            chapter => q.chapter.clone().unwrap_or_default(),
            sort => q.sort.clone().unwrap_or_default(),
            confirm => q.confirm.clone().filter(|c| c == "accept" || c == "reject"),
            back => back,
        })?)
    }

    fn operate(&mut self, form: OpForm) -> Reply {
        // On the question the page shows, as the terminal does before each key: a question
        // decided by the last key (or elsewhere) gives way to the next one left.
        let here = self.session.settle().is_some();
        // An accept from the side-by-side view names its candidate: go to it first.
        if let Some(k) = form.k.as_deref().and_then(|k| k.parse::<usize>().ok())
            && here
        {
            if !(1..=self.session.candidates()).contains(&k) {
                return self.told("error", format!("no candidate {k} here"), "/review?compare=1");
            }
            while self.session.position().1 != k - 1 {
                if self.session.apply(Operation::Next).is_err() {
                    break;
                }
            }
        }
        let op = match form.op.as_str() {
            "accept" => Operation::Accept { force: false },
            "force-accept" => Operation::Accept { force: true },
            "reject" => Operation::Reject,
            "skip" => Operation::Skip,
            "next" => Operation::Next,
            "previous" => Operation::Previous,
            "back" => Operation::Back,
            "undo" => Operation::Undo,
            "forward" => {
                // The next question with drafts left, as `settle` finds one going on.
                let (n, total) = (self.session.position().0, self.session.questions());
                for i in n + 2..=total {
                    if let Ok(Outcome::Moved) = self.session.apply(Operation::Jump(i)) {
                        return Reply::see("/review");
                    }
                }
                return self.told("note", "this is the last question left".into(), "/review");
            }
            "jump" => match form.n.as_deref().and_then(|n| n.trim().parse().ok()) {
                Some(n) => Operation::Jump(n),
                None => return self.told("error", "go to: give a question number".into(), "/review"),
            },
            "edit" => match form.body {
                // A browser's text area sends CRLF; the draft keeps the chapter's own `\n`.
                Some(body) => Operation::Edit(body.replace("\r\n", "\n")),
                None => return self.told("error", "edit: no answer was sent".into(), "/review"),
            },
            "feedback" => {
                if !here {
                    return self.told("note", "no question left to revise".into(), "/review");
                }
                let note = form.note.unwrap_or_default();
                if note.trim().is_empty() {
                    return self.told("error", "feedback: say what to change".into(), "/review?feedback=1");
                }
                let current = self.session.current().draft.clone();
                *self.writing.lock().unwrap_or_else(|p| p.into_inner()) = Writing {
                    started: Some(std::time::Instant::now()),
                    ..Writing::default()
                };
                let writing = self.writing.clone();
                let watch = move |e: &aigcq::draft::Event| writing.lock().unwrap_or_else(|p| p.into_inner()).event(e);
                let revised = (self.hooks.revise)(self.session.pending(), &current, note.trim(), &watch);
                self.writing.lock().unwrap_or_else(|p| p.into_inner()).started = None;
                match revised {
                    Ok(path) => Operation::Revised(path),
                    Err(e) => return self.told("error", format!("the revision failed: {e:#}"), "/review"),
                }
            }
            other => return self.told("error", format!("no such operation: {other}"), "/review"),
        };
        let view = if matches!(op, Operation::Revised(_)) {
            "/review?compare=1"
        } else {
            "/review"
        };
        match self.session.apply(op) {
            Ok(outcome) => {
                self.tell(&outcome);
                Reply::see(view)
            }
            Err(e) => self.told("error", format!("{e:#}"), "/review"),
        }
    }

    fn told(&mut self, class: &'static str, text: String, to: &str) -> Reply {
        self.said.push((class, text));
        Reply::see(to)
    }

    /// What an outcome says, as the terminal says it.
    fn tell(&mut self, outcome: &Outcome) {
        let line = match outcome {
            Outcome::Accepted { named, decided, draft } => {
                let into = crate::app::output::review::merged_into(decided, self.cwd);
                if let Err(e) = (self.hooks.after)(decided, std::slice::from_ref(draft)) {
                    self.session.count_error();
                    self.said.push(("error", format!("{e:#}")));
                }
                ("ok", format!("merged {named} into {into}"))
            }
            Outcome::Rejected { named } => ("ok", format!("rejected {named}")),
            Outcome::Skipped {
                question,
                questions,
                drafts,
                ..
            } => (
                "note",
                format!("skipped question [{question}/{questions}] ({drafts} draft(s) stay pending)"),
            ),
            Outcome::Undone { draft, decision } => {
                let what = if *decision == aigcq::review::ledger::Decision::Accepted {
                    "accept"
                } else {
                    "reject"
                };
                ("ok", format!("undid the {what} of {draft}"))
            }
            Outcome::Edited { named } => ("ok", format!("edited {named}")),
            Outcome::Added { at, from } => (
                "ok",
                format!("the revision of candidate {} is candidate {}", from + 1, at + 1),
            ),
            Outcome::Moved => return,
            Outcome::Refused(why) => ("note", why.clone()),
            Outcome::Unusable(why) => ("error", why.clone()),
            Outcome::Failed(errors) => {
                for (id, e) in errors {
                    self.said.push(("error", format!("{id}: {e:#}")));
                }
                return;
            }
            Outcome::Many { decided, accepting } => {
                for (id, e) in &decided.errors {
                    self.said.push(("error", format!("{id}: {e:#}")));
                }
                // Told of the drafts as they were pending: the session has let go of them.
                if let Err(e) = (self.hooks.after)(decided, accepting) {
                    self.said.push(("error", format!("{e:#}")));
                }
                (
                    "ok",
                    format!(
                        "merged {} and rejected {} draft(s){}",
                        decided.accepted.len(),
                        decided.rejected.len(),
                        if decided.errors.is_empty() {
                            String::new()
                        } else {
                            format!("; {} left pending", decided.errors.len())
                        }
                    ),
                )
            }
        };
        self.said.push(line);
    }

    fn bulk(&mut self, form: BulkForm) -> Reply {
        let op = match form.action.as_str() {
            "accept" => Operation::Many {
                accept: form.ids,
                reject: Vec::new(),
            },
            _ => Operation::Many {
                accept: Vec::new(),
                reject: form.ids,
            },
        };
        let back = format!("/queue?{}", form.back);
        match self.session.apply(op) {
            Ok(outcome) => {
                self.tell(&outcome);
                Reply::see(back)
            }
            Err(e) => self.told("error", format!("{e:#}"), &back),
        }
    }

    /// An image below the content folder, by its path there.
    fn asset(&self, path: &str) -> Reply {
        let path = percent_decode_str(path).decode_utf8_lossy();
        let kind = Path::new(path.as_ref())
            .extension()
            .and_then(|e| e.to_str())
            .and_then(|e| IMAGES.iter().find(|(x, _)| x.eq_ignore_ascii_case(e)))
            .map(|(_, kind)| *kind);
        let Some(kind) = kind else {
            return Reply::status(StatusCode::NOT_FOUND, "only images of the content folder are served");
        };
        let file = match store::inside(self.review.content, &path, "image", "the content folder") {
            Ok(f) => f,
            Err(e) => return Reply::status(StatusCode::FORBIDDEN, &e.to_string()),
        };
        match aigcq::atomic::read_limited(&file, IMAGE_LIMIT) {
            Ok(body) => Reply {
                status: StatusCode::OK,
                kind,
                body,
                location: None,
            },
            Err(_) => Reply::status(StatusCode::NOT_FOUND, "no such image"),
        }
    }
}

/// `/asset/<the chapter's folder>/`.
fn assets_of(chapter: &str) -> String {
    let folder = Path::new(chapter)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::from("/asset/");
    for segment in folder.split('/').filter(|s| !s.is_empty()) {
        out.push_str(&utf8_percent_encode(segment, SEGMENT).to_string());
        out.push('/');
    }
    out
}
