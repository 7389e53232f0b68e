//! Batch mode (`draft --batch`, `aigcq batch`): a run's requests go to the provider's Batch
//! API (OpenAI's `/files` + `/batches`, which DashScope, Zhipu and Moonshot share) at half the
//! price, and their results come back as drafts exactly as a normal run writes them.
//!
//! Submitting writes, under `drafts/.batches/`, what collecting needs: per batch a record
//! (`<id>.json`) and one entry per request (`<id>.requests.jsonl`: the question, the span
//! hash and the request as sent). Collecting downloads the output and error files once, joins
//! them on `custom_id` and appends each request it has turned into drafts to
//! `<id>.collected`, so that it can stop anywhere and run again without losing or repeating
//! anything.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::llm::client::{Call, Client, Completion};
use crate::refs::Reference;
use crate::store::Prompt;

/// The folder below the drafts store.
pub const FOLDER: &str = ".batches";

/// A batch's states, as the API names them.
pub const STATES: [&str; 8] = [
    "validating",
    "in_progress",
    "finalizing",
    "completed",
    "failed",
    "expired",
    "cancelling",
    "cancelled",
];

/// Whether a batch in this state will change no more.
pub fn finished(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "expired" | "cancelled")
}

/// A request's `custom_id`: unique per question and kind of request, at most 64 characters.
pub fn custom_id(question_id: &str, rewrite: bool) -> String {
    let kind: &[u8] = if rewrite { b"rewrite" } else { b"draft" };
    format!("q-{}", crate::identity::short_hash(&[question_id.as_bytes(), kind], 32))
}

/// What collecting needs to write one request's drafts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The request's id in the batch ([`custom_id`]).
    pub custom_id: String,
    /// The chapter's path below the content folder.
    pub chapter: String,
    /// The question's anchor in the chapter.
    pub anchor: String,
    /// The question's id ([`crate::identity::question_id`]).
    pub question_id: String,
    /// A new version of an answered question (`draft --rewrite`).
    pub rewrite: bool,
    /// The question's span hash at submission: a chapter edited since makes a stale draft.
    pub span_hash: String,
    /// The request as sent, and what its prompt was built from.
    pub prompt: Prompt,
    /// The references the prompt held.
    pub references: Vec<Reference>,
}

/// One line of a Batch API input file.
pub fn line(entry: &Entry, body: &Value, endpoint: &str) -> String {
    json!({"custom_id": entry.custom_id, "method": "POST", "url": endpoint, "body": body}).to_string()
}

/// Splits lines into files of at most `max_lines` lines and `max_bytes` bytes each.
pub fn split<T>(items: Vec<(T, String)>, max_lines: usize, max_bytes: u64) -> Vec<Vec<(T, String)>> {
    let mut files: Vec<Vec<(T, String)>> = Vec::new();
    let mut bytes = 0u64;
    for (item, line) in items {
        let len = line.len() as u64 + 1;
        let full = files
            .last()
            .is_none_or(|f| f.len() >= max_lines.max(1) || (!f.is_empty() && bytes + len > max_bytes));
        if full {
            files.push(Vec::new());
            bytes = 0;
        }
        bytes += len;
        files.last_mut().expect("pushed").push((item, line));
    }
    files
}

/// Request counts as the API reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    #[serde(default)]
    /// Requests in the batch.
    pub total: u64,
    #[serde(default)]
    /// Requests answered.
    pub completed: u64,
    #[serde(default)]
    /// Requests that failed.
    pub failed: u64,
}

/// A batch as `GET /batches/{id}` describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Remote {
    /// The provider's batch id.
    pub id: String,
    /// One of [`STATES`].
    pub status: String,
    #[serde(default)]
    /// How many requests are done, when the provider says.
    pub request_counts: Option<Counts>,
    #[serde(default)]
    /// The file holding the answers, once there is one.
    pub output_file_id: Option<String>,
    #[serde(default)]
    /// The file holding the failed requests, once there is one.
    pub error_file_id: Option<String>,
    #[serde(default)]
    /// When the batch finished, in seconds since 1970.
    pub completed_at: Option<i64>,
}

/// A submitted batch, as recorded locally.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The provider's batch id.
    pub id: String,
    /// The uploaded input file.
    pub input_file_id: String,
    /// The model the requests name.
    pub model: String,
    /// Host (and port) of the API.
    pub host: String,
    /// When it was submitted (RFC 3339).
    pub submitted: String,
    /// How many requests it holds.
    pub requests: usize,
    /// The last state seen.
    pub remote: Remote,
    /// Where `draft --batch --export` wrote the input, for a batch run elsewhere (vLLM's
    /// `run_batch` on one's own cluster, a provider's console): no provider is asked about
    /// it; `batch import` brings its output.
    #[serde(default)]
    pub exported: Option<PathBuf>,
}

/// The state of an exported batch until its output is imported.
pub const EXPORTED: &str = "exported";

/// A submission under way (or stopped by a crash or a failed request): written before the
/// provider is asked for anything, so that no batch it creates is ever unrecorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    /// `sub-<time>-<random>`: unique per submission, so two runs never share a file.
    pub name: String,
    /// The model the requests name.
    pub model: String,
    /// Host (and port) of the API.
    pub host: String,
    /// When the submission started (RFC 3339).
    pub started: String,
    /// How many requests it holds.
    pub requests: usize,
    /// Set once the input file is uploaded: a batch made from it is this submission's.
    #[serde(default)]
    pub input_file_id: Option<String>,
}

/// What the batches folder holds: complete records, submissions that never completed, and
/// the files that could not be read (each error names its file).
#[derive(Debug, Default)]
pub struct Listing {
    /// Complete batch records, newest first.
    pub records: Vec<Record>,
    /// Submissions that never completed, newest first.
    pub incomplete: Vec<Submission>,
    /// Files of the folder that could not be read, each naming its file.
    pub errors: Vec<anyhow::Error>,
}

/// The batches recorded under a drafts store.
pub struct Batches {
    dir: PathBuf,
}

impl Batches {
    /// The batches recorded under the drafts folder `drafts`.
    pub fn new(drafts: &Path) -> Batches {
        Batches {
            dir: drafts.join(FOLDER),
        }
    }

    fn path(&self, id: &str, ext: &str) -> Result<PathBuf> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            bail!("{id:?} is not a batch id");
        }
        Ok(self.dir.join(format!("{id}.{ext}")))
    }

    /// Every recorded batch, newest first, the incomplete submissions, and an error for each
    /// file that is not what its name says (it is left out; the rest goes on).
    pub fn list(&self) -> Result<Listing> {
        let mut out = Listing::default();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.dir.display())),
        };
        for e in entries {
            let p = e?.path();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if let Some(sub) = name.strip_suffix(".submitting.json") {
                match read_json::<Submission>(&p, MAX_RECORD, "a batch submission") {
                    Ok(s) if s.name == sub => out.incomplete.push(s),
                    Ok(_) => out
                        .errors
                        .push(anyhow!("{}: its name does not match the file", p.display())),
                    Err(e) => out.errors.push(e),
                }
            } else if p.extension().is_some_and(|x| x == "json") {
                match read_json::<Record>(&p, MAX_RECORD, "a batch record") {
                    Ok(r) if self.path(&r.id, "json").is_ok_and(|q| q == p) => out.records.push(r),
                    Ok(r) => out
                        .errors
                        .push(anyhow!("{}: names batch {:?}, not its own", p.display(), r.id)),
                    Err(e) => out.errors.push(e),
                }
            }
        }
        out.records
            .sort_by(|a, b| b.submitted.cmp(&a.submitted).then(a.id.cmp(&b.id)));
        out.incomplete.sort_by(|a, b| b.started.cmp(&a.started));
        Ok(out)
    }

    /// The record of batch `id`.
    pub fn get(&self, id: &str) -> Result<Record> {
        let p = self.path(id, "json")?;
        if !p.is_file() {
            bail!(
                "no batch {id} recorded under {}; see aigcq batch list",
                self.dir.display()
            );
        }
        read_json(&p, MAX_RECORD, "a batch record")
    }

    /// Writes batch record `r` atomically.
    pub fn save(&self, r: &Record) -> Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        crate::atomic::write(&self.path(&r.id, "json")?, serde_json::to_string_pretty(r)?.as_bytes())?;
        Ok(())
    }

    /// Uploads `entries` (with their lines) as one input file, creates the batch and records
    /// it. The entries are written before the batch exists, so that a batch is never without
    /// them.
    pub async fn submit(
        &self,
        client: &Client,
        cfg: &BatchConfig,
        metadata: Value,
        entries: Vec<(Entry, String)>,
        model: &str,
        host: &str,
    ) -> Result<Record> {
        std::fs::create_dir_all(&self.dir)?;
        let (input, kept) = files(&entries)?;
        let sub = Submission {
            name: format!(
                "sub-{}-{}",
                crate::store::now().replace([':', '-'], ""),
                crate::identity::short_hash(&[&input, &std::process::id().to_le_bytes(), &nonce()], 8)
            ),
            model: model.to_owned(),
            host: host.to_owned(),
            started: crate::store::now(),
            requests: entries.len(),
            input_file_id: None,
        };
        let pending = self.dir.join(format!("{}.requests.jsonl", sub.name));
        let record_of = self.dir.join(format!("{}.submitting.json", sub.name));
        // When the provider surely made no batch, the submission is dropped.
        let forget = || {
            let _ = std::fs::remove_file(&pending);
            let _ = std::fs::remove_file(&record_of);
        };
        crate::atomic::write(&pending, &kept)?;
        self.save_submission(&sub)?;
        let file: Value = match client
            .call_json(
                reqwest::Method::POST,
                &cfg.files_path,
                &Call::File {
                    purpose: "batch",
                    name: format!("aigcq-{}.jsonl", sub.name),
                    bytes: input.into(),
                },
            )
            .await
        {
            Ok(f) => f,
            Err(e) => {
                forget();
                bail!("uploading the batch input: {e}");
            }
        };
        let input_file_id = file["id"]
            .as_str()
            .ok_or_else(|| anyhow!("the file upload's reply has no id"))?
            .to_owned();
        let sub = Submission {
            input_file_id: Some(input_file_id.clone()),
            ..sub
        };
        self.save_submission(&sub)?;
        let created = client
            .call_json::<Remote>(
                reqwest::Method::POST,
                &cfg.batches_path,
                &Call::Json(json!({
                    "input_file_id": input_file_id,
                    "endpoint": cfg.endpoint,
                    "completion_window": cfg.completion_window,
                    "metadata": metadata,
                })),
            )
            .await;
        let remote = match created {
            Ok(r) => r,
            // A refusal (4xx) made no batch; anything else (a 5xx, a broken connection) may
            // have: the submission stays, and batch list says so.
            Err(e) if e.status().is_some_and(|s| (400..500).contains(&s)) => {
                forget();
                bail!("creating the batch: {e}");
            }
            Err(e) => bail!(
                "creating the batch: {e}; the provider may have made it from {input_file_id} anyway (see aigcq batch list)"
            ),
        };
        let requests = self.path(&remote.id, "requests.jsonl")?;
        if requests.exists() {
            bail!(
                "the provider named the new batch {}, which is recorded already; {} keeps its requests",
                remote.id,
                pending.display()
            );
        }
        std::fs::rename(&pending, &requests)?;
        let record = Record {
            id: remote.id.clone(),
            input_file_id,
            model: model.to_owned(),
            host: host.to_owned(),
            submitted: crate::store::now(),
            requests: entries.len(),
            remote,
            exported: None,
        };
        self.save(&record)?;
        std::fs::remove_file(&record_of)?;
        Ok(record)
    }

    /// Writes `entries`' lines to the batch input file `to` instead of sending them, and
    /// records the batch as a submitted one is (same custom ids), with the state
    /// [`EXPORTED`] until [`Batches::import`] brings its output.
    pub fn export(&self, to: &Path, entries: Vec<(Entry, String)>, model: &str, host: &str) -> Result<Record> {
        std::fs::create_dir_all(&self.dir)?;
        let (input, kept) = files(&entries)?;
        let id = format!(
            "local-{}-{}",
            crate::store::now().replace([':', '-'], "").to_lowercase(),
            crate::identity::short_hash(&[&input, &nonce()], 8)
        );
        crate::atomic::write(&self.path(&id, "requests.jsonl")?, &kept)?;
        crate::atomic::write(to, &input).with_context(|| format!("cannot write {}", to.display()))?;
        let record = Record {
            id: id.clone(),
            input_file_id: String::new(),
            model: model.to_owned(),
            host: host.to_owned(),
            submitted: crate::store::now(),
            requests: entries.len(),
            remote: Remote {
                id,
                status: EXPORTED.into(),
                ..Remote::default()
            },
            exported: Some(std::path::absolute(to)?),
        };
        self.save(&record)?;
        Ok(record)
    }

    /// Takes `output`, a batch output file made elsewhere (OpenAI's batch output format, as
    /// vLLM's `run_batch` writes it), as the output of the recorded batch its requests belong
    /// to (`id`, or the one whose requests hold its first `custom_id`), which is then
    /// finished and ready to collect. At most `max` bytes; a batch already imported keeps
    /// its output.
    pub fn import(&self, output: &Path, id: Option<&str>, max: u64) -> Result<Record> {
        let size = std::fs::metadata(output)
            .with_context(|| format!("cannot read {}", output.display()))?
            .len();
        if size > max {
            bail!(
                "{} is larger than [batch] max_download ({max} bytes); raise it in aigcq.toml if the file is right",
                output.display()
            );
        }
        let bytes = std::fs::read(output).with_context(|| format!("cannot read {}", output.display()))?;
        let first = String::from_utf8_lossy(&bytes)
            .lines()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| serde_json::from_str::<Value>(l).ok())
            .and_then(|v| v["custom_id"].as_str().map(str::to_owned))
            .ok_or_else(|| {
                anyhow!(
                    "{}: the first line is not a batch result with a custom_id",
                    output.display()
                )
            })?;
        let mut record = match id {
            Some(id) => self.get(id)?,
            None => self.owner_of(&first)?.ok_or_else(|| {
                anyhow!(
                    "{}: no recorded batch asked for {first}; was it exported from this project?",
                    output.display()
                )
            })?,
        };
        let dest = self.path(&record.id, "output.jsonl")?;
        if dest.exists() {
            bail!(
                "batch {} has its output already; collect it with `aigcq batch collect {}`",
                record.id,
                record.id
            );
        }
        crate::atomic::write(&dest, &bytes)?;
        record.remote.status = "completed".into();
        record.remote.output_file_id = Some(format!("imported from {}", output.display()));
        record.remote.completed_at = Some(jiff::Timestamp::now().as_second());
        self.save(&record)?;
        Ok(record)
    }

    /// The recorded batch whose requests hold `custom_id`, newest first.
    fn owner_of(&self, custom_id: &str) -> Result<Option<Record>> {
        for r in self.list()?.records {
            let path = self.path(&r.id, "requests.jsonl")?;
            let Ok(f) = std::fs::File::open(&path) else { continue };
            let holds = std::io::BufReader::new(f)
                .lines()
                .map_while(Result::ok)
                .any(|l| serde_json::from_str::<Entry>(&l).is_ok_and(|e| e.custom_id == custom_id));
            if holds {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    fn save_submission(&self, s: &Submission) -> Result<()> {
        let p = self.dir.join(format!("{}.submitting.json", s.name));
        crate::atomic::write(&p, serde_json::to_string_pretty(s)?.as_bytes())
            .with_context(|| format!("cannot write {}", p.display()))
    }

    /// The batch's state now, recorded. An exported batch is what its record says.
    pub async fn refresh(&self, client: &Client, cfg: &BatchConfig, mut record: Record) -> Result<Record> {
        if record.exported.is_some() {
            return Ok(record);
        }
        record.remote = client
            .call_json(
                reqwest::Method::GET,
                &format!("{}/{}", cfg.batches_path, record.id),
                &Call::Empty,
            )
            .await
            .map_err(|e| anyhow!("batch {}: {e}", record.id))?;
        self.save(&record)?;
        Ok(record)
    }

    /// Asks the provider to cancel the batch.
    pub async fn cancel(&self, client: &Client, cfg: &BatchConfig, mut record: Record) -> Result<Record> {
        if let Some(file) = &record.exported {
            bail!(
                "batch {} was exported to {}, not sent: there is nothing to cancel at a provider",
                record.id,
                file.display()
            );
        }
        record.remote = client
            .call_json(
                reqwest::Method::POST,
                &format!("{}/{}/cancel", cfg.batches_path, record.id),
                &Call::Empty,
            )
            .await
            .map_err(|e| anyhow!("cancelling batch {}: {e}", record.id))?;
        self.save(&record)?;
        Ok(record)
    }

    /// Downloads file `file_id` to `<id>.<ext>` unless it is already there (atomically, so
    /// that a partial download is never taken for a whole one), at most `[batch] max_download`
    /// bytes. The temporary file has the name [`crate::atomic::sweep`] knows and is locked
    /// while it is written, so a killed run leaves nothing the next review does not remove.
    async fn download(
        &self,
        client: &Client,
        cfg: &BatchConfig,
        id: &str,
        file_id: &str,
        ext: &str,
    ) -> Result<PathBuf> {
        let dest = self.path(id, ext)?;
        if dest.exists() {
            return Ok(dest);
        }
        if !file_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            bail!("batch {id}: the provider's file id {file_id:?} is not a file id");
        }
        let mut resp = client
            .call(
                reqwest::Method::GET,
                &format!("{}/{file_id}/content", cfg.files_path),
                &Call::Empty,
            )
            .await
            .map_err(|e| anyhow!("downloading {file_id} of batch {id}: {e}"))?;
        // Written line by line with the key redacted: a service may echo it in an error.
        let mut tmp = crate::atomic::locked_temp(&self.dir)?;
        let mut line = Vec::new();
        let write_line = |line: &mut Vec<u8>, tmp: &mut tempfile::NamedTempFile| -> std::io::Result<()> {
            tmp.write_all(client.redacted(&String::from_utf8_lossy(line)).as_bytes())?;
            line.clear();
            Ok(())
        };
        let mut total = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| anyhow!("downloading {file_id}: {e}"))? {
            total += chunk.len() as u64;
            if total > cfg.max_download {
                bail!(
                    "batch {id}: file {file_id} is larger than [batch] max_download ({} bytes); nothing was kept (raise it in aigcq.toml if the file is right)",
                    cfg.max_download
                );
            }
            for piece in chunk.split_inclusive(|&b| b == b'\n') {
                line.extend_from_slice(piece);
                if piece.ends_with(b"\n") {
                    write_line(&mut line, &mut tmp)?;
                }
            }
        }
        write_line(&mut line, &mut tmp)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&dest)?;
        Ok(dest)
    }

    /// The results of a finished batch, joined with its entries: for each request not yet
    /// collected, its entry and its completion or why it has none. Downloads the output and
    /// error files on first use; a downloaded file that is not what the API promises is
    /// removed (the next collect downloads it again) and named in the error.
    pub async fn results(&self, client: &Client, cfg: &BatchConfig, record: &Record) -> Result<Vec<(Entry, Outcome)>> {
        let mut answers: HashMap<String, (Value, String)> = HashMap::new();
        let mut twice: HashMap<String, String> = HashMap::new();
        for (file, ext) in [
            (&record.remote.output_file_id, "output.jsonl"),
            (&record.remote.error_file_id, "errors.jsonl"),
        ] {
            let Some(file) = file.as_deref().filter(|f| !f.is_empty()) else {
                continue;
            };
            let path = self.download(client, cfg, &record.id, file, ext).await?;
            let lines = std::io::BufReader::new(std::fs::File::open(&path)?).lines();
            for (n, l) in lines.enumerate() {
                let at = format!("{}:{}", path.display(), n + 1);
                let parsed = l
                    .map_err(|e| anyhow!("{at}: {e}"))
                    .and_then(|l| {
                        Ok(if l.trim().is_empty() {
                            None
                        } else {
                            Some(serde_json::from_str::<Value>(&l)?)
                        })
                    })
                    .map_err(|e| {
                        anyhow!(
                            "{at}: not a JSON line ({e}); the file was removed, the next collect downloads it again"
                        )
                    });
                let v = match parsed {
                    Ok(Some(v)) => v,
                    Ok(None) => continue,
                    Err(e) => {
                        let _ = std::fs::remove_file(&path);
                        return Err(e);
                    }
                };
                if let Some(id) = v["custom_id"].as_str() {
                    if let Some((_, first)) = answers.get(id) {
                        twice.insert(id.to_owned(), format!("{first} and {at}"));
                    }
                    answers.insert(id.to_owned(), (v.clone(), at));
                }
            }
        }
        let done = self.collected(&record.id)?;
        let mut out = Vec::new();
        let path = self.path(&record.id, "requests.jsonl")?;
        let entries =
            std::fs::File::open(&path).with_context(|| format!("batch {}: its requests file is missing", record.id))?;
        for (n, l) in std::io::BufReader::new(entries).lines().enumerate() {
            let entry: Entry = l
                .map_err(anyhow::Error::from)
                .and_then(|l| Ok(serde_json::from_str(&l)?))
                .with_context(|| format!("{}:{}: not a batch request", path.display(), n + 1))?;
            if done.contains(&entry.custom_id) {
                continue;
            }
            let outcome = match (answers.remove(&entry.custom_id), twice.get(&entry.custom_id)) {
                (Some(_), Some(lines)) => {
                    Outcome::Failed(format!("the provider answered it twice ({lines}); draft it again"))
                }
                (Some((v, _)), None) => outcome(client, &v),
                (None, _) => Outcome::Missing,
            };
            out.push((entry, outcome));
        }
        Ok(out)
    }

    fn collected(&self, id: &str) -> Result<HashSet<String>> {
        let path = self.path(id, "collected")?;
        match std::fs::read(&path).map(|b| String::from_utf8_lossy(&b).into_owned()) {
            // A torn last line (a crash mid-append) is left out.
            Ok(t) => Ok(crate::atomic::complete_lines(&t)
                .lines()
                .filter(|l| l.starts_with("q-") && l.len() == 34)
                .map(str::to_owned)
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Records, durably, that these requests' drafts are written and durable: in one append
    /// ([`crate::atomic::append_lines`]).
    pub fn mark_collected(&self, id: &str, custom_ids: &[String]) -> Result<()> {
        let path = self.path(id, "collected")?;
        let lines: String = custom_ids.iter().map(|c| format!("{c}\n")).collect();
        crate::atomic::append_lines(&path, &lines).with_context(|| format!("cannot append to {}", path.display()))
    }

    /// The `custom_id`s of requests in batches not collected yet: a new batch does not ask
    /// again for them.
    pub fn waiting(&self) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for r in self.list()?.records {
            let done = self.collected(&r.id)?;
            if done.len() >= r.requests {
                continue;
            }
            let path = self.path(&r.id, "requests.jsonl")?;
            let f = std::fs::File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
            for (n, l) in std::io::BufReader::new(f).lines().enumerate() {
                let entry: Entry = l
                    .map_err(anyhow::Error::from)
                    .and_then(|l| Ok(serde_json::from_str(&l)?))
                    .with_context(|| format!("{}:{}: not a batch request", path.display(), n + 1))?;
                if !done.contains(&entry.custom_id) {
                    out.insert(entry.custom_id);
                }
            }
        }
        Ok(out)
    }

    /// How many of the batch's requests are collected.
    pub fn collected_count(&self, id: &str) -> Result<usize> {
        Ok(self.collected(id)?.len())
    }
}

/// The batch input file (one request line each) and the entries file collecting needs.
fn files(entries: &[(Entry, String)]) -> Result<(Vec<u8>, Vec<u8>)> {
    let (mut input, mut kept) = (Vec::new(), Vec::new());
    for (entry, line) in entries {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
        serde_json::to_writer(&mut kept, entry)?;
        kept.push(b'\n');
    }
    Ok((input, kept))
}

/// The largest record or submission file read: they hold a few hundred bytes.
const MAX_RECORD: u64 = 1 << 20;

/// A JSON file of the batches folder, read up to `max` bytes; errors name the file.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path, max: u64, what: &str) -> Result<T> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > max {
        bail!("{} is larger than {max} bytes: not {what}", path.display());
    }
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not {what}", path.display()))
}

/// Bytes that differ between two submissions started in the same second by one process.
fn nonce() -> [u8; 16] {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    t.to_le_bytes()
}

/// What became of one request of a batch.
#[derive(Debug)]
pub enum Outcome {
    /// The provider's answer.
    Answered(Completion),
    /// The request failed: the status and the provider's message.
    Failed(String),
    /// No line for it in the output or error file: not run (an expired or cancelled batch).
    Missing,
}

fn outcome(client: &Client, v: &Value) -> Outcome {
    let response = &v["response"];
    let status = response["status_code"].as_u64().unwrap_or(0);
    if status == 200 {
        let body = &response["body"];
        // Some services send the body as a JSON string.
        let text = body.as_str().map_or_else(|| body.to_string(), str::to_owned);
        return match client.completion_from(&text) {
            Ok(c) => Outcome::Answered(c),
            Err(e) => Outcome::Failed(e.to_string()),
        };
    }
    let message = response["body"]["error"]["message"]
        .as_str()
        .or(v["error"]["message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let e = if v["error"].is_null() {
                &response["body"]
            } else {
                &v["error"]
            };
            e.to_string()
        });
    let message = client.redacted(&message);
    Outcome::Failed(match status {
        0 => message,
        s => format!("HTTP {s}: {message}"),
    })
}

/// The `[batch]` table: the provider's Batch API (`draft --batch`, `aigcq batch`). The
/// defaults are OpenAI's, which DashScope (Qwen), Moonshot and Zhipu (GLM, with `endpoint =
/// "/v4/chat/completions"`) share.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// The file and batch endpoints, below `base_url`.
    pub files_path: String,
    /// The batches endpoint, below `base_url`.
    pub batches_path: String,
    /// The `url` each request line names: the chat endpoint's path as the batch service
    /// expects it.
    pub endpoint: String,
    /// How long the provider may take (`24h`).
    pub completion_window: String,
    /// A provider's limits per input file; a larger run is split into several batches.
    pub max_lines: usize,
    /// The largest input file, in bytes.
    pub max_bytes: u64,
    /// The largest output or error file `batch collect` downloads, in bytes.
    pub max_download: u64,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            files_path: "files".into(),
            batches_path: "batches".into(),
            endpoint: "/v1/chat/completions".into(),
            completion_window: "24h".into(),
            max_lines: 50_000,
            max_bytes: 200 << 20,
            max_download: 2 << 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_are_unique_short_and_stable() {
        let a = custom_id("ch.md#7", false);
        assert_eq!(a, custom_id("ch.md#7", false));
        assert_ne!(a, custom_id("ch.md#7", true));
        assert_ne!(a, custom_id("ch.md#8", false));
        assert!(a.len() <= 64 && a.len() == 34, "{a}");
    }

    #[test]
    fn files_are_split_at_the_line_and_byte_limits() {
        let items: Vec<(usize, String)> = (0..25).map(|i| (i, "x".repeat(9))).collect();
        let files = split(items.clone(), 10, 1 << 20);
        assert_eq!(files.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
        // 10 bytes a line with its newline: 3 lines fit in 35 bytes.
        let files = split(items, 100, 35);
        assert!(
            files.iter().all(|f| f.len() == 3 || f.len() == 1),
            "{:?}",
            files.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert_eq!(
            files.iter().flatten().map(|(i, _)| *i).collect::<Vec<_>>(),
            (0..25).collect::<Vec<_>>()
        );
    }
}
