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

use crate::config::BatchConfig;
use crate::draft::client::{Call, Client, Completion};
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
    pub custom_id: String,
    pub chapter: String,
    pub anchor: String,
    pub question_id: String,
    pub rewrite: bool,
    /// The question's span hash at submission: a chapter edited since makes a stale draft.
    pub span_hash: String,
    /// The request as sent, and what its prompt was built from.
    pub prompt: Prompt,
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
    pub total: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub failed: u64,
}

/// A batch as `GET /batches/{id}` describes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Remote {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub request_counts: Option<Counts>,
    #[serde(default)]
    pub output_file_id: Option<String>,
    #[serde(default)]
    pub error_file_id: Option<String>,
    #[serde(default)]
    pub completed_at: Option<i64>,
}

/// A submitted batch, as recorded locally.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub input_file_id: String,
    pub model: String,
    pub host: String,
    pub submitted: String,
    pub requests: usize,
    /// The last state seen.
    pub remote: Remote,
}

/// The batches recorded under a drafts store.
pub struct Batches {
    dir: PathBuf,
}

impl Batches {
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

    /// Every recorded batch, newest first.
    pub fn list(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.dir.display())),
        };
        for e in entries {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
                out.push(
                    serde_json::from_str::<Record>(&text)
                        .with_context(|| format!("{} is not a batch record", p.display()))?,
                );
            }
        }
        out.sort_by(|a, b| b.submitted.cmp(&a.submitted).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The record of batch `id`.
    pub fn get(&self, id: &str) -> Result<Record> {
        let p = self.path(id, "json")?;
        let text = std::fs::read_to_string(&p).map_err(|_| {
            anyhow!(
                "no batch {id} recorded under {}; see aigcq batch list",
                self.dir.display()
            )
        })?;
        Ok(serde_json::from_str(&text)?)
    }

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
        let mut input = Vec::new();
        let mut kept = Vec::new();
        for (entry, line) in &entries {
            input.extend_from_slice(line.as_bytes());
            input.push(b'\n');
            serde_json::to_writer(&mut kept, entry)?;
            kept.push(b'\n');
        }
        let name = format!("aigcq-{}.jsonl", crate::identity::short_hash(&[&input], 12));
        let pending = self.dir.join(format!("{name}.requests"));
        crate::atomic::write(&pending, &kept)?;
        let file: Value = client
            .call_json(
                reqwest::Method::POST,
                &cfg.files_path,
                &Call::File {
                    purpose: "batch",
                    name,
                    bytes: input.into(),
                },
            )
            .await
            .map_err(|e| anyhow!("uploading the batch input: {e}"))?;
        let input_file_id = file["id"]
            .as_str()
            .ok_or_else(|| anyhow!("the file upload's reply has no id"))?
            .to_owned();
        let remote: Remote = client
            .call_json(
                reqwest::Method::POST,
                &cfg.batches_path,
                &Call::Json(json!({
                    "input_file_id": input_file_id,
                    "endpoint": cfg.endpoint,
                    "completion_window": cfg.completion_window,
                    "metadata": metadata,
                })),
            )
            .await
            .map_err(|e| anyhow!("creating the batch: {e}"))?;
        std::fs::rename(&pending, self.path(&remote.id, "requests.jsonl")?)?;
        let record = Record {
            id: remote.id.clone(),
            input_file_id,
            model: model.to_owned(),
            host: host.to_owned(),
            submitted: crate::store::now(),
            requests: entries.len(),
            remote,
        };
        self.save(&record)?;
        Ok(record)
    }

    /// The batch's state now, recorded.
    pub async fn refresh(&self, client: &Client, cfg: &BatchConfig, mut record: Record) -> Result<Record> {
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
    /// that a partial download is never taken for a whole one).
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
        let mut resp = client
            .call(
                reqwest::Method::GET,
                &format!("{}/{file_id}/content", cfg.files_path),
                &Call::Empty,
            )
            .await
            .map_err(|e| anyhow!("downloading {file_id} of batch {id}: {e}"))?;
        // Written line by line with the key redacted: a service may echo it in an error.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        let mut line = Vec::new();
        let write_line = |line: &mut Vec<u8>, tmp: &mut tempfile::NamedTempFile| -> std::io::Result<()> {
            tmp.write_all(client.redacted(&String::from_utf8_lossy(line)).as_bytes())?;
            line.clear();
            Ok(())
        };
        while let Some(chunk) = resp.chunk().await.map_err(|e| anyhow!("downloading {file_id}: {e}"))? {
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
    /// error files on first use.
    pub async fn results(&self, client: &Client, cfg: &BatchConfig, record: &Record) -> Result<Vec<(Entry, Outcome)>> {
        let mut answers: HashMap<String, Value> = HashMap::new();
        for (file, ext) in [
            (&record.remote.output_file_id, "output.jsonl"),
            (&record.remote.error_file_id, "errors.jsonl"),
        ] {
            let Some(file) = file.as_deref().filter(|f| !f.is_empty()) else {
                continue;
            };
            let path = self.download(client, cfg, &record.id, file, ext).await?;
            for (n, l) in std::io::BufReader::new(std::fs::File::open(&path)?).lines().enumerate() {
                let l = l?;
                if l.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(&l)
                    .map_err(|e| anyhow!("{} line {}: not JSON ({e})", path.display(), n + 1))?;
                if let Some(id) = v["custom_id"].as_str() {
                    answers.insert(id.to_owned(), v);
                }
            }
        }
        let done = self.collected(&record.id)?;
        let mut out = Vec::new();
        let entries = std::fs::File::open(self.path(&record.id, "requests.jsonl")?)
            .with_context(|| format!("batch {}: its requests file is missing", record.id))?;
        for l in std::io::BufReader::new(entries).lines() {
            let entry: Entry = serde_json::from_str(&l?)?;
            if done.contains(&entry.custom_id) {
                continue;
            }
            let outcome = match answers.remove(&entry.custom_id) {
                Some(v) => outcome(client, &v),
                None => Outcome::Missing,
            };
            out.push((entry, outcome));
        }
        Ok(out)
    }

    fn collected(&self, id: &str) -> Result<HashSet<String>> {
        match std::fs::read_to_string(self.path(id, "collected")?) {
            // A torn last line (a crash mid-append) is not a custom_id: it is ignored.
            Ok(t) => Ok(t
                .lines()
                .filter(|l| l.starts_with("q-") && l.len() == 34)
                .map(str::to_owned)
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Records that a request's drafts are written, durably, before the next is collected.
    pub fn mark_collected(&self, id: &str, custom_id: &str) -> Result<()> {
        let path = self.path(id, "collected")?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        // After a torn line, start on a line of our own.
        let mut text = String::new();
        if f.metadata()?.len() > 0 {
            use std::io::{Read, Seek};
            let mut last = [0u8];
            f.seek(std::io::SeekFrom::End(-1))?;
            f.read_exact(&mut last)?;
            if last[0] != b'\n' {
                text.push('\n');
            }
        }
        text.push_str(custom_id);
        text.push('\n');
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        Ok(())
    }

    /// The `custom_id`s of requests in batches not collected yet: a new batch does not ask
    /// again for them.
    pub fn waiting(&self) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for r in self.list()? {
            let done = self.collected(&r.id)?;
            if done.len() >= r.requests {
                continue;
            }
            let f = std::fs::File::open(self.path(&r.id, "requests.jsonl")?)?;
            for l in std::io::BufReader::new(f).lines() {
                let entry: Entry = serde_json::from_str(&l?)?;
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

/// What became of one request of a batch.
#[derive(Debug)]
pub enum Outcome {
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
