//! What every command starts from, and the one place that builds the engine's objects from
//! flags and configuration (as ripgrep's `HiArgs` does): the provider and its client, the
//! judge's connection, the references loader, the runtime. Commands use this and
//! [`super::output`], never each other.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use aigcq::config::Project;
use aigcq::draft::Reviser;
use aigcq::llm::client::Client;
use aigcq::llm::pace::Learnt;
use aigcq::llm::provider::{Overrides, Provider, ProviderConfig};
use aigcq::refs::{Loader, Refs, Source};
use aigcq::scan;
use aigcq::select::{self, Item};
use aigcq::store::Draft;

use aigcq::chapter::Chapter;

/// The key of a server and model in the concurrency memory.
fn pace_key(provider: &Provider, model: &str) -> String {
    format!("{} {model}", provider.host())
}

/// What every command starts from.
pub struct Context {
    pub cwd: PathBuf,
    pub project: Project,
}

impl Context {
    /// The `QUERY` arguments of `draft` and `review`, with a chapter file or folder given as
    /// a path (`content/ch1.md#7`, tab-completed) turned into its name below the content root;
    /// other queries pass through.
    pub fn queries(&self, raw: &[String]) -> Vec<String> {
        let content = self.project.content_dir();
        raw.iter()
            .map(|query| {
                let (path, frag) = match query.rsplit_once('#') {
                    Some((p, f)) => (p, Some(f)),
                    None => (query.as_str(), None),
                };
                if path.is_empty() || !self.cwd.join(path).exists() {
                    return query.clone();
                }
                let name = aigcq::scan::chapter_name(&self.cwd.join(path), &content);
                match frag {
                    Some(f) => format!("{name}#{f}"),
                    None => name,
                }
            })
            .collect()
    }

    /// The paths given, or the content folder.
    pub fn inputs(&self, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
        if !paths.is_empty() {
            return Ok(paths.to_vec());
        }
        let content = self.project.content_dir();
        if !content.is_dir() {
            bail!(
                "content folder {} not found (run `aigcq init`, or set [paths] content in aigcq.toml)",
                content.display()
            );
        }
        Ok(vec![content])
    }

    /// The provider as the flags, the environment and `[provider]` make it.
    pub fn provider(&self, overrides: &Overrides) -> Result<Provider> {
        self.provider_from(&self.project.config.provider, overrides)
    }

    /// The provider as the flags, the environment and `file` (a `[provider]` table) make it.
    fn provider_from(&self, file: &ProviderConfig, overrides: &Overrides) -> Result<Provider> {
        Provider::resolve(file, |k| std::env::var(k).ok(), overrides)
    }

    /// The runtime the engine's async work runs on (one thread: the work is waiting on
    /// servers).
    pub fn runtime(&self) -> Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
    }

    /// The provider, the model and a client for it. `fallback_model` is used when none is
    /// configured (a revision can go to the model that made the draft).
    pub fn connect(
        &self,
        overrides: &Overrides,
        allow_insecure: bool,
        stream: bool,
        fallback_model: Option<&str>,
    ) -> Result<(Provider, String, Client)> {
        self.connect_to(
            &self.project.config.provider,
            overrides,
            allow_insecure,
            stream,
            fallback_model,
        )
    }

    /// [`Context::connect`] with `file` in place of aigcq.toml's `[provider]` (a model of
    /// `[[draft.models]]` with its own key variable).
    pub fn connect_to(
        &self,
        file: &ProviderConfig,
        overrides: &Overrides,
        allow_insecure: bool,
        stream: bool,
        fallback_model: Option<&str>,
    ) -> Result<(Provider, String, Client)> {
        let provider = self.provider_from(file, overrides)?;
        let Some(model) = provider.model.value.clone().or(fallback_model.map(str::to_owned)) else {
            bail!("no model set: pass --model, set $AIGCQ_MODEL, or set model in [provider] of aigcq.toml");
        };
        provider.check_transport(allow_insecure)?;
        let mut client = Client::new(&provider, &model, stream)?;
        if let Some(learnt) = self.pace_memory().get(&pace_key(&provider, &model)) {
            client = client.resuming(*learnt);
        }
        Ok((provider, model, client))
    }

    /// Where the concurrency each server allowed is kept between runs: a cache, never needed.
    fn pace_file(&self) -> PathBuf {
        self.project.drafts_dir().join(".cache/concurrency.json")
    }

    /// The windows earlier runs ended with, by host and model; an unreadable file is none.
    fn pace_memory(&self) -> std::collections::BTreeMap<String, Learnt> {
        let read = aigcq::atomic::read_limited(&self.pace_file(), 1 << 20);
        read.ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Keeps what `client` learnt of its server's concurrency limit for the next run (or
    /// forgets it when this run met no limit).
    pub fn remember_pace(&self, provider: &Provider, model: &str, client: &Client) {
        let mut all = self.pace_memory();
        let key = pace_key(provider, model);
        let changed = match client.learnt() {
            Some(l) => all.insert(key, l) != Some(l),
            None => all.remove(&key).is_some(),
        };
        if !changed {
            return;
        }
        let path = self.pace_file();
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| aigcq::atomic::write(&path, serde_json::to_string_pretty(&all)?.as_bytes()));
        if let Err(e) = written {
            crate::app::output::warning(format!("cannot write {}: {e}", path.display()));
        }
    }

    /// Where each question's references come from: its files under the refs folder and every
    /// `--ref`. A `--ref` path is taken from the current folder.
    pub fn references(
        &self,
        refs: &[String],
        ref_chars: Option<usize>,
        overrides: &Overrides,
        allow_insecure: bool,
    ) -> Result<Refs> {
        let project = &self.project;
        let extra = refs
            .iter()
            .map(|r| match Source::parse(r)? {
                Source::File(p) => {
                    let path = self.cwd.join(p);
                    match std::fs::metadata(&path) {
                        Ok(m) if m.is_file() => Ok(Source::File(path)),
                        Ok(m) if m.is_dir() => bail!("--ref {r}: is a folder; name the files in it"),
                        Ok(_) => bail!("--ref {r}: is not a regular file (a pipe or a device)"),
                        Err(_) => bail!("--ref {r}: no such file"),
                    }
                }
                url => Ok(url),
            })
            .collect::<Result<_>>()?;
        let timeout = self.provider(overrides)?.timeout.value;
        Ok(Refs {
            dir: project.refs_dir(),
            extra,
            chars: ref_chars.unwrap_or(project.config.draft.ref_chars),
            answered: Default::default(),
            loader: Loader::new(
                project.root(),
                self.cache_dir(&project.refs_cache_dir()).as_deref(),
                timeout,
                std::time::Duration::from_secs(project.config.draft.ref_timeout),
                allow_insecure,
            )?,
        })
    }

    /// The index of the book's answered questions (`chapters`: each one's path below the
    /// content folder and its parse), for the prompts' `related`; none when `chars` is 0.
    /// An index that cannot be built costs the related answers only, with a warning.
    pub fn related_index(
        &self,
        chapters: &[(&str, &aigcq::chapter::Chapter)],
        chars: usize,
    ) -> Option<std::sync::Arc<aigcq::related::Index>> {
        if chars == 0 {
            return None;
        }
        let index = match self.cache_dir(&self.project.related_cache_dir()) {
            Some(dir) => aigcq::related::Index::update(&dir, chapters),
            None => aigcq::related::Index::in_memory(chapters),
        };
        match index {
            Ok(index) => Some(std::sync::Arc::new(index)),
            Err(e) => {
                crate::app::output::warning(format!("related answers left out: {e:#}"));
                None
            }
        }
    }

    /// `dir`, a cache folder below the drafts folder, when it stays inside it: a forged drafts
    /// folder may link it anywhere, and then nothing is cached there.
    fn cache_dir(&self, dir: &std::path::Path) -> Option<PathBuf> {
        let drafts = self.project.drafts_dir();
        let rel = dir.strip_prefix(&drafts).ok()?.to_str()?;
        match aigcq::store::inside(&drafts, rel, "cache folder", "the drafts folder") {
            Ok(dir) => Some(dir),
            Err(e) if drafts.is_dir() => {
                crate::app::output::warning(format!("{e:#}; nothing is cached there"));
                None
            }
            Err(_) => None,
        }
    }

    /// Revises one pending draft by `note` as its question's next candidate; the new draft's path.
    pub fn revise(
        &self,
        runtime: &tokio::runtime::Runtime,
        reviser: &Reviser,
        pending: &[Draft],
        draft: &Draft,
        note: &str,
    ) -> Result<std::path::PathBuf> {
        let prompt = aigcq::store::read_prompt(&draft.path)?
            .context("no prompt was kept with this draft (made by an older aigcq); draft the question again")?;
        let path = aigcq::store::chapter_path(&self.project.content_dir(), &draft.meta.chapter)?;
        let text = scan::read_chapter(&path)?;
        let rules = reviser.rules;
        let chapter = Chapter::parse(&text, rules);
        let next = pending
            .iter()
            .filter(|p| p.meta.question_id == draft.meta.question_id)
            .map(|p| p.meta.candidate)
            .max()
            .unwrap_or(0)
            + 1;
        runtime.block_on(reviser.revise(&path, &chapter, draft, &prompt, note, next))
    }

    /// The frame of the template that made `draft`, for the gate's `leak` on its revision;
    /// empty when the template is gone.
    pub fn frame_of(&self, draft: &Draft) -> aigcq::prompt::Frame {
        aigcq::prompt::Templates::load(&self.project.prompts_dir(), &draft.meta.template)
            .map(|t| t.frame)
            .unwrap_or_default()
    }
}

/// The drafts the queries select (every one when there are none).
pub fn select_drafts<'d>(pending: &'d [Draft], queries: &[String]) -> Result<Vec<&'d Draft>> {
    let items: Vec<Item> = pending
        .iter()
        .map(|d| Item {
            chapter: &d.meta.chapter,
            anchor: &d.meta.anchor,
            index: d.meta.index,
            text: &d.meta.question,
        })
        .collect();
    let picked = select::select(&items, queries)?;
    Ok(pending.iter().zip(picked).filter(|(_, p)| *p).map(|(d, _)| d).collect())
}
