//! `aigcq.toml`: found by walking up from the current directory, like `Cargo.toml`. Every
//! setting has a default, so a project without the file works. Each table's type belongs to
//! the stage it configures; this module only finds the file and gathers the tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::batch::BatchConfig;
use crate::chapter::{QuestionConfig, Rules};
use crate::check::CheckConfig;
use crate::cost::Price;
use crate::draft::DraftConfig;
use crate::judge::JudgeConfig;
use crate::llm::provider::ProviderConfig;
use crate::review::ReviewConfig;

/// The file name looked for.
pub const FILE_NAME: &str = "aigcq.toml";

/// The contents of `aigcq.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Folders, relative to the folder holding `aigcq.toml`.
    pub paths: Paths,
    /// `[questions]`: the patterns that find questions.
    pub questions: QuestionConfig,
    /// `[check]`.
    pub check: CheckConfig,
    /// `[provider]`: the API to draft with.
    pub provider: ProviderConfig,
    /// `[draft]`.
    pub draft: DraftConfig,
    /// `[judge]`: the model that scores drafts.
    pub judge: JudgeConfig,
    /// `[review]`.
    pub review: ReviewConfig,
    /// `[prices."MODEL"]`: what a model costs, for estimates and actual costs.
    pub prices: BTreeMap<String, Price>,
    /// `[batch]`: the provider's Batch API.
    pub batch: BatchConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
/// The `[paths]` table.
pub struct Paths {
    /// The chapters.
    pub content: PathBuf,
    /// Drafts, the ledger and aigcq's caches.
    pub drafts: PathBuf,
    /// Prompt templates and house rules.
    pub prompts: PathBuf,
    /// Reference material per question: `<refs>/<chapter without .md>/<index>[-…].<ext>`.
    pub refs: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            content: "content".into(),
            drafts: "drafts".into(),
            prompts: "prompts".into(),
            refs: "refs".into(),
        }
    }
}

impl Config {
    /// Values TOML accepts but aigcq cannot use, named with their table.
    fn check(&self) -> Result<(), String> {
        if self.draft.candidates == 0 {
            return Err("[draft] candidates must be at least 1".into());
        }
        if self.draft.ref_timeout == 0 {
            return Err("[draft] ref_timeout must be at least 1 (seconds)".into());
        }
        let b = &self.batch;
        for (name, v) in [
            ("max_lines", b.max_lines as u64),
            ("max_bytes", b.max_bytes),
            ("max_download", b.max_download),
        ] {
            if v == 0 {
                return Err(format!("[batch] {name} must be at least 1"));
            }
        }
        for (model, p) in &self.prices {
            p.check().map_err(|e| format!("[prices.\"{model}\"] {e}"))?;
        }
        Ok(())
    }
}

/// A project: its root folder and its configuration.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder holding `aigcq.toml`, or the current directory when there is none.
    pub root: PathBuf,
    /// The configuration file read, if any.
    pub file: Option<PathBuf>,
    /// `aigcq.toml`'s contents, or the defaults.
    pub config: Config,
}

impl Project {
    /// Loads `explicit` if given, else the nearest `aigcq.toml` at or above `cwd`.
    pub fn discover(cwd: &Path, explicit: Option<&Path>) -> Result<Project> {
        let file = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => cwd.ancestors().map(|d| d.join(FILE_NAME)).find(|p| p.is_file()),
        };
        let Some(file) = file else {
            return Ok(Project {
                root: cwd.to_path_buf(),
                file: None,
                config: Config::default(),
            });
        };
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let config: Config = toml::from_str(&text).with_context(|| format!("invalid {}", file.display()))?;
        config
            .check()
            .map_err(|e| anyhow::anyhow!("invalid {}: {e}", file.display()))?;
        let root = file.parent().map_or_else(|| cwd.to_path_buf(), Path::to_path_buf);
        let root = if root.as_os_str().is_empty() {
            cwd.to_path_buf()
        } else {
            root
        };
        Ok(Project {
            root,
            file: Some(file),
            config,
        })
    }

    /// The content folder.
    pub fn content_dir(&self) -> PathBuf {
        self.root.join(&self.config.paths.content)
    }

    /// The drafts folder.
    pub fn drafts_dir(&self) -> PathBuf {
        self.root.join(&self.config.paths.drafts)
    }

    /// The prompts folder.
    pub fn prompts_dir(&self) -> PathBuf {
        self.root.join(&self.config.paths.prompts)
    }

    /// `prompts/glossary.toml`, the book's terms, when it exists.
    pub fn glossary(&self) -> anyhow::Result<Option<crate::glossary::Glossary>> {
        crate::glossary::Glossary::load(&self.prompts_dir().join(crate::glossary::FILE))
    }

    /// The references folder.
    pub fn refs_dir(&self) -> PathBuf {
        self.root.join(&self.config.paths.refs)
    }

    /// Fetched reference pages, by URL.
    pub fn refs_cache_dir(&self) -> PathBuf {
        self.drafts_dir().join(".cache/refs")
    }

    /// Where the index of the book's answered questions is kept ([`crate::related`]).
    pub fn related_cache_dir(&self) -> PathBuf {
        self.drafts_dir().join(".cache/related")
    }

    /// The project folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How the configuration file is named in messages.
    pub fn source_name(&self) -> String {
        self.file
            .as_ref()
            .map_or_else(|| "defaults".into(), |f| f.display().to_string())
    }

    /// The compiled question rules; a bad pattern names the file.
    pub fn rules(&self) -> Result<Rules> {
        Rules::new(&self.config.questions).with_context(|| match &self.file {
            Some(f) => format!("in {}", f.display()),
            None => "in the default configuration".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_candidates_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "[draft]\ncandidates = 0\n").unwrap();
        let e = format!("{:#}", Project::discover(dir.path(), None).unwrap_err());
        assert!(
            e.contains(FILE_NAME) && e.contains("candidates must be at least 1"),
            "{e}"
        );
    }

    #[test]
    fn walks_up_to_the_nearest_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "[paths]\ncontent = \"book\"\n").unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let p = Project::discover(&sub, None).unwrap();
        assert_eq!(p.root, dir.path());
        assert_eq!(p.content_dir(), dir.path().join("book"));
    }

    #[test]
    fn missing_file_means_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::discover(dir.path(), None).unwrap();
        assert!(p.file.is_none());
        assert_eq!(p.config, Config::default());
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "contnet = 1\n").unwrap();
        let e = format!("{:#}", Project::discover(dir.path(), None).unwrap_err());
        assert!(e.contains("aigcq.toml") && e.contains("contnet"), "{e}");
    }
}
