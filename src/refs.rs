//! Reference material for a question, so that a draft rests on sources rather than on what
//! the model remembers. Three places name it: files under `refs/` named after the question
//! (`refs/<chapter without .md>/<index>[-anything].<ext>`, and `_chapter.<ext>` for every
//! question of the chapter), `draft --ref PATH|URL`, and URLs listed alone on a line of such
//! a file. HTML and PDF are converted to text; URLs are fetched once and cached on disk by URL;
//! a character budget is shared fairly between the references and cut at paragraph ends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::{atomic, identity};

/// The file that gives material to every question of its chapter.
pub const CHAPTER_FILE: &str = "_chapter";

/// Where a reference comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// An http(s) URL.
    Url(String),
}

impl Source {
    /// A `--ref` argument: a URL when it has an http(s) scheme, else a path. Other schemes
    /// (`file://`, `ftp://`) are refused: give a path or an http(s) URL.
    pub fn parse(arg: &str) -> Result<Source> {
        if is_url(arg) {
            return Ok(Source::Url(arg.to_owned()));
        }
        if let Some((scheme, _)) = arg.split_once("://")
            && !scheme.is_empty()
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
        {
            bail!("--ref {arg}: {scheme}:// is not read; give a file's path or an http(s) URL");
        }
        Ok(Source::File(arg.into()))
    }
}

fn is_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// A reference as the prompt gets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The file (relative to the project) or the URL.
    pub source: String,
    /// Its text, as the prompt held it.
    pub text: String,
    /// Cut to fit the budget.
    pub truncated: bool,
}

/// A reference as a draft's front matter records it: what was used, not the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The file (relative to the project) or the URL.
    pub source: String,
    /// [`identity::short_hash`] of the text the prompt held.
    pub hash: String,
    /// Characters the prompt held.
    pub chars: usize,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// Cut to fit the budget.
    pub truncated: bool,
}

impl Reference {
    /// What a draft's front matter keeps of it.
    pub fn record(&self) -> Record {
        Record {
            source: self.source.clone(),
            hash: identity::short_hash(&[self.text.as_bytes()], 12),
            chars: self.text.chars().count(),
            truncated: self.truncated,
        }
    }
}

/// The files under `dir` for question `index` of `chapter` (its path below the content
/// root): the chapter's `_chapter.*` first, then the question's own, by name.
pub fn question_files(dir: &Path, chapter: &str, index: usize) -> Vec<PathBuf> {
    let folder = dir.join(chapter.strip_suffix(".md").unwrap_or(chapter));
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    let number = index.to_string();
    let mut files: Vec<(bool, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let path = e.path();
            let stem = path.file_stem()?.to_str()?.to_owned();
            let own = stem == number || stem.strip_prefix(&number).is_some_and(|rest| rest.starts_with('-'));
            (own || stem == CHAPTER_FILE).then_some((own, path))
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

/// What a run gives each question: its folder of reference files, the `--ref` sources, the
/// character budget, and the loader.
pub struct Refs {
    /// The references folder.
    pub dir: PathBuf,
    /// The `--ref` sources, for every question.
    pub extra: Vec<Source>,
    /// `[draft] ref_chars`: characters of reference text per prompt, shared by all.
    pub chars: usize,
    /// Reads files and fetches URLs.
    pub loader: Loader,
    /// The book's own answer to a question asked again (by chapter and question number),
    /// given before the question's other references.
    pub answered: HashMap<(String, usize), Loaded>,
}

impl Refs {
    /// The sources of question `index` of `chapter`: its files, then the `--ref` ones.
    pub fn sources(&self, chapter: &str, index: usize) -> Vec<Source> {
        let mut out: Vec<Source> = question_files(&self.dir, chapter, index)
            .into_iter()
            .map(Source::File)
            .collect();
        out.extend(self.extra.iter().cloned());
        out
    }

    /// The references of question `index` of `chapter`, read, fetched and cut to the budget.
    pub async fn references(&self, chapter: &str, index: usize) -> Result<Vec<Reference>> {
        let sources = self.sources(chapter, index);
        let answered = self.answered.get(&(chapter.to_owned(), index));
        if sources.is_empty() && answered.is_none() {
            return Ok(Vec::new());
        }
        let loaded = answered
            .cloned()
            .into_iter()
            .chain(self.loader.load(&sources).await?)
            .collect();
        Ok(fit(loaded, self.chars))
    }
}

/// Most bytes read from one file or URL: a reference is a page or a report, not a download.
pub const MAX_BYTES: usize = 4 << 20;

/// Most bytes of a cached page's text: a fetch reads at most [`MAX_BYTES`], and its text (a
/// PDF's above all) can be longer than what came.
const CACHED_BYTES: u64 = 4 * MAX_BYTES as u64;

/// Reads and fetches references.
pub struct Loader {
    http: reqwest::Client,
    /// The project root: file sources are shown relative to it.
    root: PathBuf,
    /// Converted pages, one file per URL; none caches nothing.
    cache: Option<PathBuf>,
    /// How long one fetch may take, start to end.
    deadline: Duration,
    allow_insecure: bool,
    /// Each URL of this run, fetched once even when several questions ask for it at once.
    fetched: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<String>>>>,
}

/// A reference's whole text, before the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The file (relative to the project) or the URL.
    pub source: String,
    /// Its whole text.
    pub text: String,
}

impl Loader {
    /// `timeout` bounds each silence of a fetch and `deadline` the whole of it; no key or
    /// provider header is ever sent with one.
    pub fn new(
        root: &Path,
        cache: Option<&Path>,
        timeout: Duration,
        deadline: Duration,
        allow_insecure: bool,
    ) -> Result<Loader> {
        // A redirect obeys the plain-http rule too.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let url = attempt.url();
            if attempt.previous().len() >= 10 {
                attempt.error("more than 10 redirects")
            } else if url.scheme() == "http" && !crate::llm::provider::is_loopback(url) && !allow_insecure {
                attempt.error("redirected to plain http:// on another machine (use --allow-insecure)")
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .user_agent(concat!("aigcq/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(timeout)
            .redirect(redirects)
            .build()?;
        Ok(Loader {
            http,
            root: root.to_owned(),
            cache: cache.map(Path::to_owned),
            deadline,
            allow_insecure,
            fetched: Default::default(),
        })
    }

    /// Every reference of `sources`, in order; the URLs a file lists follow it. An error
    /// names the source that failed.
    pub async fn load(&self, sources: &[Source]) -> Result<Vec<Loaded>> {
        let mut out = Vec::new();
        for source in sources {
            match source {
                Source::File(path) => {
                    let (text, urls) = self.file(path)?;
                    let name = self.shown(path);
                    if !text.trim().is_empty() {
                        out.push(Loaded { source: name, text });
                    }
                    for url in urls {
                        let text = self
                            .url(&url)
                            .await
                            .with_context(|| format!("reference {url} (listed in {})", self.shown(path)))?;
                        out.push(Loaded { source: url, text });
                    }
                }
                Source::Url(url) => {
                    let text = self.url(url).await.with_context(|| format!("reference {url}"))?;
                    out.push(Loaded {
                        source: url.clone(),
                        text,
                    });
                }
            }
        }
        Ok(out)
    }

    fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    }

    /// A file's text and the URLs listed alone on its lines (taken out of the text). Only a
    /// regular file is read, and never more than [`MAX_BYTES`] of it.
    fn file(&self, path: &Path) -> Result<(String, Vec<String>)> {
        let name = self.shown(path);
        let bytes = read_capped(path).with_context(|| format!("reference {name}"))?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ext == "pdf" || is_pdf(&bytes) {
            let text = pdf_to_text(bytes, self.deadline).with_context(|| format!("reference {name}"))?;
            return Ok((text, Vec::new()));
        }
        if let Some(at) = memchr::memchr(0, &bytes) {
            bail!("reference {name} is not text (a NUL byte at {at})");
        }
        match ext.as_str() {
            "html" | "htm" => Ok((html_to_text(&bytes)?, Vec::new())),
            _ => {
                let text = String::from_utf8(bytes).map_err(|e| {
                    anyhow!(
                        "reference {name} is not UTF-8 text (byte {})",
                        e.utf8_error().valid_up_to()
                    )
                })?;
                Ok(split_urls(&text))
            }
        }
    }

    /// A URL's text: fetched by this run already, or cached on disk, or fetched now.
    async fn url(&self, url: &str) -> Result<String> {
        let cell = self
            .fetched
            .lock()
            .map_err(|_| anyhow!("reference cache poisoned"))?
            .entry(url.to_owned())
            .or_default()
            .clone();
        cell.get_or_try_init(|| self.fetch(url)).await.cloned()
    }

    /// [`Self::fetch_now`], start to end within the run's deadline: a server that trickles
    /// bytes never times out on silence alone.
    async fn fetch(&self, url: &str) -> Result<String> {
        tokio::time::timeout(self.deadline, self.fetch_now(url))
            .await
            .map_err(|_| {
                anyhow!(
                    "took longer than {} s to fetch ([draft] ref_timeout)",
                    self.deadline.as_secs()
                )
            })?
    }

    async fn fetch_now(&self, url: &str) -> Result<String> {
        let cached =
            (self.cache.as_ref()).map(|c| c.join(format!("{}.txt", identity::short_hash(&[url.as_bytes()], 16))));
        // The cache is the drafts folder's: what no fetch could have written is not read.
        let read = |c: &PathBuf| atomic::read_limited(c, CACHED_BYTES).ok();
        if let Some(text) = cached.as_ref().and_then(read).and_then(|b| String::from_utf8(b).ok()) {
            return Ok(text);
        }
        let parsed = reqwest::Url::parse(url)?;
        if parsed.scheme() == "http" && !crate::llm::provider::is_loopback(&parsed) && !self.allow_insecure {
            bail!("plain http:// to another machine is refused (use https://, or --allow-insecure)");
        }
        let resp = self
            .http
            .get(parsed)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e.without_url()))?;
        let status = resp.status();
        if !status.is_success() {
            bail!("HTTP {status}");
        }
        let kind = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.map_err(|e| anyhow::Error::new(e.without_url()))?);
            if body.len() > MAX_BYTES {
                bail!("larger than {} MiB", MAX_BYTES >> 20);
            }
        }
        let text = if kind.contains("pdf") || is_pdf(&body) {
            pdf_to_text(body, self.deadline)?
        } else if kind.contains("html") {
            html_to_text(&body)?
        } else if kind.starts_with("text/") || kind.contains("json") || kind.contains("markdown") || kind.is_empty() {
            String::from_utf8_lossy(&body).into_owned()
        } else {
            bail!("content type {kind} is not text");
        };
        if let (Some(dir), Some(cached)) = (&self.cache, &cached) {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            atomic::write(cached, text.as_bytes()).with_context(|| format!("cannot write {}", cached.display()))?;
        }
        Ok(text)
    }
}

/// A reference file's bytes: a regular file of at most [`MAX_BYTES`], read no further.
fn read_capped(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path).context("no such file")?;
    if meta.is_dir() {
        bail!("is a folder; name the files in it");
    }
    if !meta.is_file() {
        bail!("is not a regular file (a pipe or a device)");
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes))
        .context("cannot read it")?;
    if bytes.len() > MAX_BYTES {
        bail!("is larger than {} MiB; keep the part that matters", MAX_BYTES >> 20);
    }
    Ok(bytes)
}

/// A PDF starts so, whatever its name or content type says.
fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
}

/// A PDF's text, by pdf-extract (pure Rust: Chinese through the fonts' ToUnicode maps as well
/// as pdftotext on the PDFs the tests write, with no program to install). The extractor runs
/// on a thread of its own: a malformed file that makes it panic or loop costs this reference,
/// within `deadline`, not the run. A PDF with no text (a scan) is refused, saying so.
fn pdf_to_text(bytes: Vec<u8>, deadline: Duration) -> Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("pdf".into())
        .spawn(move || {
            let text = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(&bytes));
            let _ = tx.send(text);
        })
        .context("cannot start reading the PDF")?;
    let text = match rx.recv_timeout(deadline) {
        Ok(Ok(Ok(text))) => text,
        Ok(Ok(Err(e))) => bail!("cannot read this PDF: {e}"),
        Ok(Err(_)) => bail!("cannot read this PDF: the extractor failed on it"),
        Err(_) => bail!(
            "reading this PDF took longer than {} s ([draft] ref_timeout)",
            deadline.as_secs()
        ),
    };
    // Pages end in form feeds; runs of blank lines say nothing.
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text
        .lines()
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\u{c}'))
    {
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank <= 1 {
            out.push_str(line);
            out.push('\n');
        }
    }
    if out.trim().is_empty() {
        bail!("the PDF has no text to extract (a scan?); save its text as a .txt file beside it");
    }
    Ok(out.trim().to_owned())
}

/// HTML as plain text, with links kept as footnotes.
fn html_to_text(bytes: &[u8]) -> Result<String> {
    html2text::from_read(bytes, 100).map_err(|e| anyhow!("cannot convert HTML: {e}"))
}

/// Splits a text file into its prose and the URLs listed alone on a line (`https://…`,
/// `<https://…>`, `- https://…`).
fn split_urls(text: &str) -> (String, Vec<String>) {
    let mut urls = Vec::new();
    let mut kept = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let bare = line
            .trim()
            .trim_start_matches(['-', '*', '+'])
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        if is_url(bare) && !bare.contains(char::is_whitespace) {
            urls.push(bare.to_owned());
        } else {
            kept.push_str(line);
        }
    }
    (kept, urls)
}

/// Shares `budget` characters between the references: each gets an equal share, and what a
/// short one leaves goes to the longer ones. Each is cut at the last paragraph end (else
/// line end) that fits.
pub fn fit(loaded: Vec<Loaded>, budget: usize) -> Vec<Reference> {
    let lens: Vec<usize> = loaded.iter().map(|l| l.text.trim().chars().count()).collect();
    loaded
        .into_iter()
        .zip(crate::text::fair_shares(&lens, budget))
        .filter(|(_, share)| *share > 0)
        .map(|(l, share)| {
            let whole = l.text.trim();
            let text = crate::text::cut_at_paragraph(whole, share);
            Reference {
                truncated: text.len() < whole.len(),
                text: text.to_owned(),
                source: l.source,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(source: &str, text: &str) -> Loaded {
        Loaded {
            source: source.into(),
            text: text.into(),
        }
    }

    #[test]
    fn files_named_after_the_question_and_the_chapter() {
        let dir = tempfile::tempdir().unwrap();
        let ch = dir.path().join("part/ch1");
        std::fs::create_dir_all(&ch).unwrap();
        for f in ["7.md", "7-report.html", "70.md", "8.md", "_chapter.txt", "x7.md"] {
            std::fs::write(ch.join(f), "x").unwrap();
        }
        let names: Vec<String> = question_files(dir.path(), "part/ch1.md", 7)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["_chapter.txt", "7-report.html", "7.md"]);
        assert!(question_files(dir.path(), "none.md", 7).is_empty());
    }

    #[test]
    fn urls_alone_on_a_line_are_fetched_the_rest_is_text() {
        let (text, urls) =
            split_urls("笔记：见报告。\n- https://a.example/x\n<http://127.0.0.1:1/y>\n正文 https://b.example 行内\n");
        assert_eq!(text, "笔记：见报告。\n正文 https://b.example 行内\n");
        assert_eq!(urls, ["https://a.example/x", "http://127.0.0.1:1/y"]);
    }

    #[test]
    fn the_budget_is_shared_fairly_and_cut_at_paragraphs() {
        let long = |c: char| {
            format!(
                "{}\n\n{}\n\n{}",
                c.to_string().repeat(40),
                c.to_string().repeat(40),
                c.to_string().repeat(40)
            )
        };
        let refs = fit(
            vec![
                loaded("short", "短短的一段。"),
                loaded("a", &long('a')),
                loaded("b", &long('b')),
            ],
            100,
        );
        let total: usize = refs.iter().map(|r| r.text.chars().count()).sum();
        assert!(total <= 100, "{total}");
        assert_eq!(refs[0].text, "短短的一段。");
        assert!(!refs[0].truncated);
        // 94 left for two: 47 each, which holds one paragraph of 40.
        assert_eq!(refs[1].text, "a".repeat(40));
        assert!(refs[1].truncated && refs[2].truncated);
        assert_eq!(refs[2].text, "b".repeat(40));
        // Nothing fits: no reference rather than an empty one.
        assert!(fit(vec![loaded("a", "x")], 0).is_empty());
    }

    #[test]
    fn html_becomes_text() {
        let text = html_to_text(
            b"<html><body><h1>Seedream</h1><p>A model by <b>ByteDance</b>.</p><script>x()</script></body></html>",
        )
        .unwrap();
        assert!(text.contains("Seedream") && text.contains("ByteDance"), "{text}");
        assert!(!text.contains("<p>") && !text.contains("x()"), "{text}");
    }
}
