//! `aigcq judge`: score the selected pending drafts with the judge model, each verdict written
//! into its draft as it lands. `draft --judge` uses [`connect`] and [`Verdicts`] too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Result, bail};
use futures_util::StreamExt;

use super::{Context, Status};
use crate::app::cli::JudgeArgs;
use crate::app::output;
use aigcq::chapter::{Chapter, Rules};
use aigcq::judge::{self, Judge};
use aigcq::llm::client::Client;
use aigcq::llm::provider::{Overrides, Provider};
use aigcq::prompt::Templates;
use aigcq::refs::Refs;
use aigcq::scan;
use aigcq::store::{Draft, Store};

pub fn run(ctx: &Context, args: &JudgeArgs) -> Result<Status> {
    let project = &ctx.project;
    let store = Store::new(project.drafts_dir());
    let (pending, bad) = store.pending();
    for e in &bad {
        output::error(format!("{e:#}"));
    }
    let selected = super::review::select_drafts(&pending, &ctx.queries(&args.queries))?;
    let scored = selected.iter().filter(|d| d.meta.score.is_some()).count();
    let todo: Vec<&Draft> = selected
        .into_iter()
        .filter(|d| args.force || d.meta.score.is_none())
        .collect();
    if todo.is_empty() {
        output::judge::nothing(scored);
        return Ok(if bad.is_empty() { Status::Clean } else { Status::Failed });
    }
    let overrides = args.provider.overrides();
    let judge = Connection::open(ctx, &overrides, true, args.allow_insecure)?;
    let refs = super::draft::references(ctx, &[], None, &overrides, args.allow_insecure)?;
    let rules = project.rules()?;
    let verdicts = Verdicts::new(ctx, &judge, &refs, &rules)?;
    output::judge::start(todo.len(), &judge.model, &judge.host);

    let texts = Texts::read(ctx, &todo);
    let chapters = texts.parse(&rules);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (mut ok, mut failed) = (0, !bad.is_empty() as usize);
    runtime.block_on(async {
        let mut results = futures_util::stream::iter(todo)
            .map(|d| {
                let (verdicts, chapters) = (&verdicts, &chapters);
                async move { (d, verdicts.judge(d, chapters).await) }
            })
            .buffer_unordered(judge.concurrency);
        while let Some((d, r)) = results.next().await {
            match r {
                Ok(true) => ok += 1,
                Ok(false) => {}
                Err(e) => {
                    output::judge::failed(&d.id, &e);
                    failed += 1;
                }
            }
        }
    });
    output::judge::summary(ok, failed);
    Ok(if failed > 0 { Status::Failed } else { Status::Clean })
}

/// The judge's provider: `[judge]` over `[provider]`, flags over both.
pub struct Connection {
    pub client: Client,
    /// The same without `response_format`.
    pub plain: Client,
    pub model: String,
    pub host: String,
    pub concurrency: usize,
}

impl Connection {
    /// `flags` are `aigcq judge`'s own when `judge_flags`, and win over `[judge]`; for
    /// `draft --judge` they are the drafting ones, and `[judge]` wins over them.
    pub fn open(ctx: &Context, flags: &Overrides, judge_flags: bool, allow_insecure: bool) -> Result<Connection> {
        let cfg = &ctx.project.config;
        let j = &cfg.judge;
        let mut file = cfg.provider.clone();
        file.api_key_env = j.api_key_env.clone().or(file.api_key_env);
        file.temperature = j.temperature.or(file.temperature);
        // The judge's own endpoint and model win over the drafting ones from the environment.
        let pick = |flag: &Option<String>, judge: &Option<String>| {
            if judge_flags {
                flag.clone().or(judge.clone())
            } else {
                judge.clone().or(flag.clone())
            }
        };
        let overrides = Overrides {
            base_url: pick(&flags.base_url, &j.base_url),
            model: pick(&flags.model, &j.model),
            ..flags.clone()
        };
        let plain_provider = Provider::resolve(&file, |k| std::env::var(k).ok(), &overrides)?;
        let Some(model) = plain_provider.model.value.clone() else {
            bail!("no judge model set: set model in [judge] (or [provider]) of aigcq.toml, or pass --model");
        };
        plain_provider.check_transport(allow_insecure)?;
        if let Some(format) = j.response_format.field() {
            file.extra_body.insert(
                "response_format".into(),
                toml::Value::try_from(format).map_err(|e| anyhow::anyhow!("response_format: {e}"))?,
            );
        }
        let provider = Provider::resolve(&file, |k| std::env::var(k).ok(), &overrides)?;
        Ok(Connection {
            client: Client::new(&provider, &model, false)?,
            plain: Client::new(&plain_provider, &model, false)?,
            host: provider.host(),
            concurrency: provider.concurrency.value,
            model,
        })
    }
}

/// The chapters the drafts belong to, read once each.
pub struct Texts(HashMap<String, (PathBuf, Result<String, String>)>);

impl Texts {
    pub fn read(ctx: &Context, drafts: &[&Draft]) -> Texts {
        let content = ctx.project.content_dir();
        let mut texts = HashMap::new();
        for d in drafts {
            texts.entry(d.meta.chapter.clone()).or_insert_with(|| {
                match aigcq::store::chapter_path(&content, &d.meta.chapter) {
                    Ok(path) => {
                        let text = scan::read_chapter(&path).map_err(|e| e.to_string());
                        (path, text)
                    }
                    Err(e) => (content.join("?"), Err(format!("{e:#}"))),
                }
            });
        }
        Texts(texts)
    }

    /// Each chapter parsed once.
    pub fn parse<'t>(&'t self, rules: &Rules) -> Chapters<'t> {
        Chapters(
            self.0
                .iter()
                .map(|(name, (path, text))| {
                    let parsed = text.as_ref().map(|t| Chapter::parse(t, rules)).map_err(String::clone);
                    (name.as_str(), (path.as_path(), parsed))
                })
                .collect(),
        )
    }
}

/// Parsed chapters by name.
pub struct Chapters<'t>(HashMap<&'t str, (&'t Path, Result<Chapter<'t>, String>)>);

/// Judges drafts and keeps each verdict in its draft.
pub struct Verdicts<'a> {
    judge: Judge<'a>,
    store: Store,
}

impl<'a> Verdicts<'a> {
    pub fn new(ctx: &Context, c: &'a Connection, refs: &'a Refs, rules: &'a Rules) -> Result<Verdicts<'a>> {
        let templates = Templates::load(&ctx.project.prompts_dir(), &ctx.project.config.judge.template)?;
        Ok(Verdicts {
            judge: Judge {
                client: &c.client,
                plain: &c.plain,
                templates,
                refs: Some(refs),
                rules,
                model: &c.model,
                format_rejected: AtomicBool::new(false),
            },
            store: Store::new(ctx.project.drafts_dir()),
        })
    }

    /// The judge itself, for `draft --judge`.
    pub fn judge_ref(&self) -> &Judge<'a> {
        &self.judge
    }

    /// Judges `draft` and records the verdict; `Ok(false)` when a review decided it
    /// meanwhile.
    pub async fn judge(&self, draft: &Draft, chapters: &Chapters<'_>) -> Result<bool> {
        let Some((path, chapter)) = chapters.0.get(draft.meta.chapter.as_str()) else {
            bail!("chapter {} was not read", draft.meta.chapter);
        };
        let chapter = chapter.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        let verdict = self.judge.judge(draft, chapter).await?;
        let kept = judge::record(&self.store, path, draft, &verdict, self.judge.model)?;
        if kept {
            output::judge::judged(&draft.id, verdict.score, &verdict.reasons);
        } else {
            output::judge::gone(&draft.id);
        }
        Ok(kept)
    }
}
