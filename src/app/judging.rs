//! Judging drafts as they are listed or saved: the judge's connection, the chapters the
//! drafts belong to, and each verdict kept in its draft. `aigcq judge` and `draft --judge`
//! both use it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Result, bail};

use crate::app::context::Context;
use crate::app::output;
use aigcq::chapter::{Chapter, Rules};
use aigcq::judge::{self, Judge};
use aigcq::llm::client::Client;
use aigcq::llm::provider::{Overrides, Provider};
use aigcq::prompt::Templates;
use aigcq::refs::Refs;
use aigcq::scan;
use aigcq::store::{Draft, Store};

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
    /// `draft --judge` they are the drafting ones, and `[judge]` wins over them
    /// ([`aigcq::judge::JudgeConfig::settings`]).
    pub fn open(ctx: &Context, flags: &Overrides, judge_flags: bool, allow_insecure: bool) -> Result<Connection> {
        let cfg = &ctx.project.config;
        let settings = cfg.judge.settings(&cfg.provider, flags, judge_flags)?;
        let env = |k: &str| std::env::var(k).ok();
        let plain_provider = Provider::resolve(&settings.plain, env, &settings.overrides)?;
        let Some(model) = plain_provider.model.value.clone() else {
            bail!("no judge model set: set model in [judge] (or [provider]) of aigcq.toml, or pass --model");
        };
        plain_provider.check_transport(allow_insecure)?;
        let provider = Provider::resolve(&settings.formatted, env, &settings.overrides)?;
        Ok(Connection {
            client: Client::new(&provider, &model, false)?,
            plain: Client::new(&plain_provider, &model, false)?,
            host: provider.host(),
            concurrency: provider.concurrency.value,
            model,
        })
    }

    /// The judge over this connection with the project's rubric; `refs` reads each draft's
    /// references again (none: the caller gives them, as `aigcq eval` does).
    pub fn judge<'a>(&'a self, ctx: &Context, refs: Option<&'a Refs>, rules: &'a Rules) -> Result<Judge<'a>> {
        Ok(Judge {
            client: &self.client,
            plain: &self.plain,
            templates: Templates::load(&ctx.project.prompts_dir(), &ctx.project.config.judge.template)?,
            refs,
            rules,
            model: &self.model,
            format_rejected: AtomicBool::new(false),
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
        Ok(Verdicts {
            judge: c.judge(ctx, Some(refs), rules)?,
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
        let kept = judge::record(
            &self.store,
            path,
            draft,
            &verdict,
            (self.judge.model, &self.judge.rubric()),
        )?;
        if kept {
            output::judge::judged(&draft.id, verdict.score, &verdict.reasons);
        } else {
            output::judge::gone(&draft.id);
        }
        Ok(kept)
    }
}
