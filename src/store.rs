//! The drafts store: one Markdown file per candidate answer under `drafts/`, mirroring the
//! chapter's path, with TOML front matter between `+++` lines. `draft` writes it, `review`
//! reads it; an author can open and edit a draft directly.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::chapter::GapKind;
use crate::identity;

const FENCE: &str = "+++";

/// Something a person should know before accepting a draft: a repair made to the reply
/// (`cleanup`), the provider's filter (`filtered`), or a quality-gate finding
/// ([`crate::draft::gate::CODES`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WarningRepr")]
pub struct Warning {
    /// What kind of finding (`cleanup`, `filtered`, or a gate code).
    pub code: String,
    /// What it is, for people.
    pub message: String,
}

/// The codes of `warnings`, each once, in order; `filtered` aside (a draft's own flag says it).
pub fn warning_codes(warnings: &[Warning]) -> Vec<&str> {
    let mut codes: Vec<&str> = Vec::new();
    for w in warnings.iter().filter(|w| w.code != "filtered") {
        if !codes.contains(&w.code.as_str()) {
            codes.push(&w.code);
        }
    }
    codes
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Drafts written before warnings had codes hold plain strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum WarningRepr {
    Coded { code: String, message: String },
    Plain(String),
}

impl From<WarningRepr> for Warning {
    fn from(r: WarningRepr) -> Warning {
        match r {
            WarningRepr::Coded { code, message } => Warning { code, message },
            WarningRepr::Plain(s) => match s.split_once(": ") {
                Some((code, message)) if code == "filtered" => Warning {
                    code: code.into(),
                    message: message.into(),
                },
                _ => Warning {
                    code: "cleanup".into(),
                    message: s,
                },
            },
        }
    }
}

/// A draft's front matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The chapter's path below the content root, `/`-separated.
    pub chapter: String,
    /// The question's id.
    pub question_id: String,
    /// The question's anchor.
    pub anchor: String,
    /// The question's text.
    pub question: String,
    /// The question's number in its chapter.
    pub index: usize,
    /// Why the answer counted as missing.
    pub kind: GapKind,
    /// The level of the heading the answer sits under.
    pub level: u8,
    /// [`identity::span_hash`] of the question when drafted: review calls the draft stale when it differs.
    pub span_hash: String,
    /// The model that wrote it.
    pub model: String,
    /// Host (and port) of the API; never the key, never the full URL.
    pub host: String,
    /// The template it was made from.
    pub template: String,
    /// A hash of that template.
    pub template_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Sent as `temperature`, when set.
    pub temperature: Option<f64>,
    /// RFC 3339.
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Why the model stopped, when the server said.
    pub finish_reason: Option<String>,
    /// The model stopped at the token limit (`finish_reason = "length"`).
    #[serde(default)]
    pub truncated: bool,
    /// The provider's content filter stopped the answer (`finish_reason = "content_filter"`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub filtered: bool,
    /// 1-based.
    pub candidate: u32,
    /// How many candidates its run made for the question.
    pub candidates: u32,
    /// What post-processing had to repair and what the quality gate found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Tokens, when the server reported them.
    pub usage: Option<crate::llm::Usage>,
    /// A new version of an answered question (`draft --rewrite`): accepting it replaces the
    /// answer, which is kept for undo.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rewrite: bool,
    /// The draft this one revises, by id, and the author's note that asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The author's note that asked for this revision.
    pub feedback: Option<String>,
    /// The references the prompt held, with a hash of the text used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<crate::refs::Record>,
    /// `aigcq judge`'s score (1–10), its reasons, and the model that judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Why, in the judge's words.
    pub reasons: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The model that judged.
    pub judge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The rubric it judged by: template name and hash.
    pub judge_template: Option<String>,
    /// The provider's batch that answered it (`draft --batch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

/// What produced a draft, kept beside it (`<draft>.prompt.json`) so that the reviewer can
/// read what the model was told and feedback can continue the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// The model asked.
    pub model: String,
    /// Host (and port) of the API.
    pub host: String,
    /// The template the prompt was made from.
    pub template: String,
    /// A hash of that template.
    pub template_hash: String,
    /// The request's parameters: its body without the messages.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The messages, in the order sent.
    pub messages: Vec<crate::llm::Turn>,
}

impl Prompt {
    /// The record of a request to `(model, host)` made from the template `(name, hash)`
    /// with these parameters and messages: what every run, batch and revision keeps.
    pub fn new(
        (model, host): (&str, &str),
        (template, template_hash): (&str, &str),
        params: serde_json::Map<String, serde_json::Value>,
        messages: &crate::llm::Messages,
    ) -> Prompt {
        Prompt {
            model: model.to_owned(),
            host: host.to_owned(),
            template: template.to_owned(),
            template_hash: template_hash.to_owned(),
            params,
            messages: messages.all(),
        }
    }
}

/// The sidecar file holding a draft file's [`Prompt`].
pub fn prompt_path(draft: &Path) -> PathBuf {
    draft.with_extension("prompt.json")
}

/// The question a draft is for, as the merge engine looks it up.
impl<'a> From<&'a Meta> for identity::QuestionRef<'a> {
    fn from(m: &'a Meta) -> Self {
        identity::QuestionRef {
            anchor: &m.anchor,
            text: &m.question,
            kind: m.kind,
            level: m.level,
            span_hash: &m.span_hash,
            rewrite: m.rewrite,
        }
    }
}

/// The largest prompt file read: prompts are a few hundred KiB at most.
const MAX_PROMPT: u64 = 64 << 20;

/// The prompt kept beside a draft file, if there is one.
pub fn read_prompt(draft: &Path) -> Result<Option<Prompt>> {
    use std::io::Read;
    let side = prompt_path(draft);
    let read = std::fs::metadata(&side).and_then(|m| {
        if !m.is_file() || m.len() > MAX_PROMPT {
            return Err(std::io::Error::other(format!(
                "not a regular file of at most {} MiB",
                MAX_PROMPT >> 20
            )));
        }
        let mut t = String::new();
        std::fs::File::open(&side)?.take(MAX_PROMPT).read_to_string(&mut t)?;
        Ok(t)
    });
    match read {
        Ok(t) => {
            Ok(Some(serde_json::from_str(&t).with_context(|| {
                format!("{} is not a draft's prompt", side.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", side.display())),
    }
}

/// A draft read from the store.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The draft file.
    pub path: PathBuf,
    /// Its path below the drafts folder without `.md`: what `review --accept` takes.
    pub id: String,
    /// Its front matter.
    pub meta: Meta,
    /// Its answer.
    pub body: String,
}

/// The time drafts and the ledger record: RFC 3339, UTC, to the second.
pub fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A draft file's text. The front matter uses the body's line ending, unless it holds a
/// multi-line string, whose own line endings must stay as they are.
pub fn to_text(meta: &Meta, body: &str) -> Result<String> {
    let toml = toml::to_string(meta)?;
    let crlf = body.contains("\r\n") && !toml.contains("\"\"\"") && !toml.contains("\'\'\'");
    let nl = if crlf { "\r\n" } else { "\n" };
    let toml = if crlf { toml.replace('\n', nl) } else { toml };
    Ok(format!("{FENCE}{nl}{toml}{FENCE}{nl}{body}"))
}

/// Splits a draft file into front matter and body. The front matter ends at the first `+++`
/// line after which what came before is valid: a `+++` line inside a multi-line string (a
/// judge's reasons, a feedback note) is part of the string.
pub fn parse(text: &str) -> Result<(Meta, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix(FENCE)
        .and_then(|r| r.strip_prefix("\r\n").or_else(|| r.strip_prefix('\n')))
    else {
        bail!("no front matter (the file must start with a `+++` line)");
    };
    let fences = rest.match_indices(FENCE).map(|(i, _)| i).filter(|&i| {
        let after = &rest[i + FENCE.len()..];
        (i == 0 || rest.as_bytes()[i - 1] == b'\n')
            && (after.is_empty() || after.starts_with('\n') || after.starts_with("\r\n"))
    });
    let mut first_error = None;
    for end in fences {
        match toml::from_str::<Meta>(&rest[..end]) {
            Ok(meta) => {
                let after = &rest[end + FENCE.len()..];
                let body = after
                    .strip_prefix("\r\n")
                    .or_else(|| after.strip_prefix('\n'))
                    .unwrap_or(after);
                return Ok((meta, body.to_owned()));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(anyhow::Error::from(e).context("invalid front matter")),
        None => bail!("the front matter has no closing `+++` line"),
    }
}

/// Drafts of `pending` by id, or by the last part of the id (`007-a17d65b9`), with or
/// without `.md`.
pub fn by_ids<'d>(pending: &'d [Draft], ids: &[String]) -> Result<Vec<&'d Draft>> {
    let mut by_id: std::collections::HashMap<&str, Vec<&Draft>> = std::collections::HashMap::new();
    for d in pending {
        by_id.entry(d.id.as_str()).or_default().push(d);
        if let Some((_, last)) = d.id.rsplit_once('/') {
            by_id.entry(last).or_default().push(d);
        }
    }
    ids.iter()
        .map(|id| {
            let id = id.trim_end_matches(".md");
            match by_id.get(id).map(Vec::as_slice) {
                Some([one]) => Ok(*one),
                Some(many) => bail!("{id:?} names {} drafts; give the full id", many.len()),
                None => bail!("no pending draft {id:?} (see aigcq review --list)"),
            }
        })
        .collect()
}

/// `rel`, a path read from a record (a draft's chapter, a ledger line, a batch request), below
/// `root`: refused unless it is relative, made of plain names only (no `..`, no `.`, no
/// empty part) and, once symbolic links are resolved, still inside `root`. The one check
/// every path taken from the drafts folder goes through; `what` and `folder` name them in
/// the error.
pub fn inside(root: &Path, rel: &str, what: &str, folder: &str) -> Result<PathBuf> {
    let mut parts = Path::new(rel).components();
    if rel.is_empty() || rel.contains("//") || !parts.all(|c| matches!(c, Component::Normal(_))) {
        bail!("{what} {rel:?} leaves {folder} (only plain names below it are allowed)");
    }
    let path = root.join(rel);
    // The deepest part that exists decides where the path really leads.
    let real_root = root
        .canonicalize()
        .with_context(|| format!("cannot read {}", root.display()))?;
    let mut existing = path.as_path();
    let real = loop {
        match existing.canonicalize() {
            Ok(r) => break r,
            Err(_) => match existing.parent() {
                Some(p) if p.starts_with(root) => existing = p,
                _ => break real_root.clone(),
            },
        }
    };
    if !real.starts_with(&real_root) {
        bail!("{what} {rel:?} leads outside {folder} (to {})", real.display());
    }
    Ok(path)
}

/// The chapter file a record names, below the content folder ([`inside`] it): what every
/// stage that reads or writes a draft's chapter calls.
pub fn chapter_path(content: &Path, chapter: &str) -> Result<PathBuf> {
    let path = inside(content, chapter, "chapter path", "the content folder")?;
    if !path.is_file() {
        bail!("chapter {} not found", path.display());
    }
    Ok(path)
}

/// The chapters' lock files, in the drafts folder.
pub const LOCKS: &str = ".locks";

/// Takes the lock of the chapter at `path` (by the file it really is, so that a chapter
/// reached through a symbolic link and by its own name share one): every writer of a
/// chapter or of its drafts' files holds it. `waiting` is called once if that takes long.
pub fn lock_chapter(drafts: &Path, path: &Path, waiting: impl FnOnce()) -> Result<atomic::Lock> {
    let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let key = identity::short_hash(&[real.as_os_str().as_encoded_bytes()], 16);
    let file = drafts.join(LOCKS).join(format!("{key}.lock"));
    atomic::lock(&file, waiting).with_context(|| format!("cannot lock {}", file.display()))
}

/// Drafts a grouped store has written and not committed, and their chapters.
type Staged = (atomic::Group, std::collections::BTreeSet<PathBuf>);

/// The drafts folder.
#[derive(Debug, Clone)]
pub struct Store {
    /// The drafts folder.
    pub root: PathBuf,
    /// New drafts wait here for [`Store::commit`] instead of being synced one by one, with
    /// the chapters whose locks the commit takes.
    group: Option<std::sync::Arc<std::sync::Mutex<Staged>>>,
}

impl Store {
    /// The store under the drafts folder `root`.
    pub fn new(root: PathBuf) -> Store {
        Store { root, group: None }
    }

    /// A store whose new drafts become durable, and visible, only at [`Store::commit`], many
    /// at a time: for writers of thousands of drafts (batch collect), which commit, then
    /// record what they committed.
    pub fn grouped(root: PathBuf) -> Store {
        Store {
            root,
            group: Some(Default::default()),
        }
    }

    /// Makes the drafts saved since the last commit durable and puts them in place, under
    /// the locks of their chapters (taken in one order, so two writers never deadlock).
    pub fn commit(&self) -> Result<()> {
        let Some(group) = &self.group else { return Ok(()) };
        let mut group = group.lock().map_err(|_| anyhow!("a save failed midway"))?;
        let (staged, chapters) = &mut *group;
        let _locks = std::mem::take(chapters)
            .iter()
            .map(|c| self.lock(c, || {}))
            .collect::<Result<Vec<_>>>()?;
        staged
            .commit()
            .with_context(|| format!("cannot write drafts under {}", self.root.display()))
    }

    /// Writes a new file of the store now, or stages it when the store is grouped.
    fn put(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        match &self.group {
            Some(g) => g
                .lock()
                .map_err(|_| std::io::Error::other("a save failed midway"))?
                .0
                .write(path, bytes),
            None => atomic::write(path, bytes),
        }
    }

    /// `drafts/<chapter path without extension>/`, refused when the chapter's path would
    /// lead out of the drafts folder.
    fn dir_for(&self, chapter: &str) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.root).with_context(|| format!("cannot create {}", self.root.display()))?;
        let rel = Path::new(chapter).with_extension("");
        inside(&self.root, &rel.to_string_lossy(), "chapter path", "the content folder")
    }

    /// The file of draft `id` in the folder `below` the store (`""` for pending drafts,
    /// [`crate::review::REJECTED`] for rejected ones): refused when the id, read from a
    /// record, holds a hidden or climbing part or leads out of the store.
    pub fn draft_file(&self, below: &str, id: &str) -> Result<PathBuf> {
        if Path::new(id)
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        {
            bail!("draft id {id:?} is not a draft's name");
        }
        let rel = if below.is_empty() {
            format!("{id}.md")
        } else {
            format!("{below}/{id}.md")
        };
        inside(&self.root, &rel, "draft id", "the drafts folder")
    }

    /// Saves a candidate atomically and returns its path. The name holds the question's
    /// number and a hash of the question, candidate and body, so saving the same text twice
    /// writes one file.
    pub fn save(&self, meta: &Meta, body: &str) -> Result<PathBuf> {
        self.save_with(meta, body, None)
    }

    /// [`Store::save`], with the prompt that produced the draft written beside it first.
    pub fn save_with(&self, meta: &Meta, body: &str, prompt: Option<&Prompt>) -> Result<PathBuf> {
        let dir = self.dir_for(&meta.chapter)?;
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let hash = identity::draft_key(&meta.question_id, meta.candidate, &meta.model, body);
        let path = dir.join(format!("{:03}-{hash}.md", meta.index));
        if let Some(p) = prompt {
            let side = prompt_path(&path);
            self.put(&side, serde_json::to_string_pretty(p)?.as_bytes())
                .with_context(|| format!("cannot write {}", side.display()))?;
        }
        self.put(&path, to_text(meta, body)?.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Takes the lock of the chapter at `chapter` ([`lock_chapter`]).
    pub fn lock(&self, chapter: &Path, waiting: impl FnOnce()) -> Result<atomic::Lock> {
        lock_chapter(&self.root, chapter, waiting)
    }

    /// Changes the pending draft at `draft` under the lock of its chapter (at `chapter`), so
    /// that no review decides it and no other writer (a verdict, an edit) changes it
    /// meanwhile: `change` gets the front matter and body as they are on disk now. `Ok(false)`
    /// when the draft was decided already; then nothing is written.
    pub fn update(&self, chapter: &Path, draft: &Path, change: impl FnOnce(&mut Meta, &mut String)) -> Result<bool> {
        let _lock = self.lock(chapter, || {})?;
        let text = match std::fs::read_to_string(draft) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", draft.display())),
        };
        let (mut meta, mut body) = parse(&text).with_context(|| format!("{}", draft.display()))?;
        change(&mut meta, &mut body);
        atomic::write(draft, to_text(&meta, &body)?.as_bytes())
            .with_context(|| format!("cannot write {}", draft.display()))?;
        Ok(true)
    }

    /// [`Store::save_with`] under the lock of the chapter at `chapter`, for a new candidate
    /// of a question whose drafts a review may be deciding: refused when `parent` (the draft
    /// it revises) was decided meanwhile.
    pub fn save_locked(
        &self,
        chapter: &Path,
        meta: &Meta,
        body: &str,
        prompt: Option<&Prompt>,
        parent: Option<&Path>,
    ) -> Result<PathBuf> {
        if let (Some(group), None) = (&self.group, parent) {
            // Written at the commit, which takes the lock then.
            group
                .lock()
                .map_err(|_| anyhow!("a save failed midway"))?
                .1
                .insert(chapter.to_path_buf());
            return self.save_with(meta, body, prompt);
        }
        let _lock = self.lock(chapter, || {})?;
        if let Some(p) = parent.filter(|p| !p.exists()) {
            bail!(
                "{} was decided by a review meanwhile; its revision is not kept",
                self.id_of(p)
            );
        }
        self.save_with(meta, body, prompt)
    }

    /// The id of the draft file at `path`: its path below the store without `.md`.
    pub fn id_of(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path).with_extension("");
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Every pending draft, sorted by chapter, question and candidate, and an error for each
    /// file that is not a valid draft. Hidden files and folders (`.rejected/`, temporary
    /// files) are not drafts.
    pub fn pending(&self) -> (Vec<Draft>, Vec<anyhow::Error>) {
        let (mut drafts, mut errors) = (Vec::new(), Vec::new());
        if !self.root.is_dir() {
            return (drafts, errors);
        }
        let walk = walkdir::WalkDir::new(&self.root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walk {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    errors.push(e.into());
                    continue;
                }
            };
            let path = entry.path();
            if !entry.file_type().is_file() || path.extension().is_none_or(|x| x != "md") {
                continue;
            }
            let read = match std::fs::read_to_string(path) {
                // Decided by another review between listing and reading: not pending.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                r => r.map_err(anyhow::Error::from).and_then(|t| parse(&t)),
            };
            match read {
                Ok((meta, body)) => drafts.push(Draft {
                    path: path.to_path_buf(),
                    id: self.id_of(path),
                    meta,
                    body,
                }),
                Err(e) => errors.push(e.context(format!("draft {}", path.display()))),
            }
        }
        drafts.sort_by(|a, b| {
            (&a.meta.chapter, a.meta.index, a.meta.candidate, &a.id).cmp(&(
                &b.meta.chapter,
                b.meta.index,
                b.meta.candidate,
                &b.id,
            ))
        });
        (drafts, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            chapter: "sub/第一章.md".into(),
            question_id: "sub/第一章.md#7-x".into(),
            anchor: "7-x".into(),
            question: "7、什么是 \"DiT\"？".into(),
            index: 7,
            kind: GapKind::Empty,
            level: 2,
            span_hash: "0123456789abcdef".into(),
            model: "m".into(),
            host: "127.0.0.1:8089".into(),
            template: "default".into(),
            template_hash: "abc".into(),
            temperature: Some(0.2),
            created: "2026-11-26T12:00:00Z".into(),
            finish_reason: Some("stop".into()),
            truncated: false,
            filtered: false,
            candidate: 1,
            candidates: 2,
            warnings: vec![],
            usage: Some(crate::llm::Usage {
                prompt_tokens: 10,
                completion_tokens: 20,
                cached_tokens: 0,
            }),
            rewrite: false,
            parent: None,
            feedback: None,
            references: Vec::new(),
            score: None,
            reasons: None,
            judge: None,
            judge_template: None,
            batch: None,
        }
    }

    #[test]
    fn warnings_of_older_drafts_read_as_coded_ones() {
        let mut m = meta();
        m.warnings = vec![Warning {
            code: "links".into(),
            message: "x".into(),
        }];
        let text = to_text(&m, "答\n").unwrap();
        assert_eq!(parse(&text).unwrap().0, m);
        let old = text.replace("[[warnings]]\ncode = \"links\"\nmessage = \"x\"\n", "");
        let old = old.replacen(
            "+++\n",
            "+++\nwarnings = [\"demoted headings by 1 level(s)\", \"filtered: stopped\"]\n",
            1,
        );
        let codes: Vec<(String, String)> = parse(&old)
            .unwrap()
            .0
            .warnings
            .into_iter()
            .map(|w| (w.code, w.message))
            .collect();
        assert_eq!(
            codes,
            [
                ("cleanup".into(), "demoted headings by 1 level(s)".into()),
                ("filtered".into(), "stopped".into())
            ]
        );
    }

    #[test]
    fn round_trips_with_either_line_ending_and_a_body_holding_fences() {
        for body in ["**DiT** 是……\n\n+++\nnot front matter\n", "一行\r\n二行\r\n"] {
            let text = to_text(&meta(), body).unwrap();
            assert_eq!(text.contains("\r\n"), body.contains("\r\n"));
            let (m, b) = parse(&text).unwrap();
            assert_eq!(m, meta());
            assert_eq!(b, body);
        }
    }

    /// Text that breaks naive front matter: fences, quotes of every TOML string kind, line
    /// endings of every kind, control characters.
    fn hostile() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("\n+++\n".to_owned()),
            Just("+++".to_owned()),
            Just("\r\n".to_owned()),
            Just("\r".to_owned()),
            Just("\"\"\"".to_owned()),
            Just("\'\'\'".to_owned()),
            Just("\\".to_owned()),
            Just("\u{1b}[2J".to_owned()),
            Just("\u{0}".to_owned()),
            any::<String>(),
        ];
        prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        /// Bug 4 of issue 22: every free-text field, with either line ending in the body.
        #[test]
        fn front_matter_round_trips_any_string(
            texts in proptest::collection::vec(hostile(), 13),
            body in hostile(),
            crlf in proptest::bool::ANY,
        ) {
            let mut m = meta();
            let mut t = texts.into_iter();
            let mut next = || t.next().unwrap();
            m.chapter = next();
            m.question_id = next();
            m.anchor = next();
            m.question = next();
            m.model = next();
            m.host = next();
            m.template = next();
            m.finish_reason = Some(next());
            m.parent = Some(next());
            m.feedback = Some(next());
            m.reasons = Some(next());
            m.judge = Some(next());
            m.warnings = vec![Warning { code: "x".into(), message: next() }];
            let body = if crlf { format!("一行\r\n{body}") } else { body };
            let text = to_text(&m, &body).unwrap();
            let (back, back_body) = parse(&text).unwrap();
            proptest::prop_assert_eq!(back, m);
            proptest::prop_assert_eq!(back_body, body);
        }
    }

    #[test]
    fn broken_front_matter_is_a_clear_error() {
        assert!(parse("no fence").unwrap_err().to_string().contains("no front matter"));
        assert!(parse("+++\nchapter = 1\n").unwrap_err().to_string().contains("closing"));
        let e = format!("{:#}", parse("+++\nchapter = 1\n+++\nbody").unwrap_err());
        assert!(e.contains("invalid front matter"), "{e}");
    }

    #[test]
    fn saves_atomically_under_the_chapter_path_and_lists_pending() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let p = store.save(&meta(), "答案\n").unwrap();
        assert!(p.starts_with(dir.path().join("sub/第一章")), "{}", p.display());
        assert!(p.file_name().unwrap().to_string_lossy().starts_with("007-"));
        assert_eq!(store.save(&meta(), "答案\n").unwrap(), p, "same text, same file");
        std::fs::create_dir_all(dir.path().join(".rejected")).unwrap();
        std::fs::write(dir.path().join(".rejected/x.md"), "junk").unwrap();
        std::fs::write(dir.path().join("sub/bad.md"), "junk").unwrap();
        let (drafts, errors) = store.pending();
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].body, "答案\n");
        assert!(drafts[0].id.starts_with("sub/第一章/007-"));
        assert_eq!(errors.len(), 1);
        assert!(format!("{:#}", errors[0]).contains("bad.md"));
    }
}
