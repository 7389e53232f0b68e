//! `aigcq.toml`: found by walking up from the current directory, like `Cargo.toml`. Every
//! setting has a default, so a project without the file works.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::chapter::{QuestionConfig, Rules};

/// The file name looked for.
pub const FILE_NAME: &str = "aigcq.toml";

/// The contents of `aigcq.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Folders, relative to the folder holding `aigcq.toml`.
    pub paths: Paths,
    pub questions: QuestionConfig,
    pub check: CheckConfig,
    pub provider: ProviderConfig,
    pub draft: DraftConfig,
    pub judge: JudgeConfig,
    pub review: ReviewConfig,
    /// `[prices."MODEL"]`: what a model costs, for estimates and actual costs.
    pub prices: std::collections::BTreeMap<String, crate::cost::Price>,
    pub batch: BatchConfig,
}

/// The `[judge]` table: the model that scores drafts (`aigcq judge`, `draft --judge`).
/// Unset fields are the provider's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeConfig {
    pub model: Option<String>,
    pub base_url: Option<String>,
    /// The name of the environment variable holding the judge's key.
    pub api_key_env: Option<String>,
    /// The rubric, prompts/<name>.jinja ("judge" falls back to the built-in one).
    pub template: String,
    pub response_format: crate::judge::ResponseFormat,
    pub temperature: Option<f64>,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            model: None,
            base_url: None,
            api_key_env: None,
            template: "judge".into(),
            response_format: Default::default(),
            // A judge should give the same score twice.
            temperature: Some(0.0),
        }
    }
}

/// The `[review]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// Commit each chapter write to git, that file alone.
    pub commit: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Paths {
    pub content: PathBuf,
    pub drafts: PathBuf,
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

/// The `[check]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CheckConfig {
    /// Names of lint rules to skip (see `aigcq check --help`).
    pub disable: Vec<String>,
}

/// The `[provider]` table: the OpenAI-compatible API to draft with. Unset fields fall back to
/// the environment and then to defaults; see [`crate::provider::Provider::resolve`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// The name of the environment variable holding the key; never the key itself.
    pub api_key_env: Option<String>,
    /// Seconds without any data from the server before an attempt fails.
    pub timeout: Option<f64>,
    pub max_retries: Option<u32>,
    pub concurrency: Option<usize>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub token_param: Option<TokenParam>,
    pub headers: BTreeMap<String, String>,
    /// Merged into every request body (switches such as `enable_thinking`), overriding
    /// aigcq's own fields of the same name.
    pub extra_body: toml::Table,
}

/// Which request field carries the answer length limit.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TokenParam {
    #[default]
    MaxTokens,
    MaxCompletionTokens,
}

impl TokenParam {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenParam::MaxTokens => "max_tokens",
            TokenParam::MaxCompletionTokens => "max_completion_tokens",
        }
    }
}

/// The `[batch]` table: the provider's Batch API (`draft --batch`, `aigcq batch`). The
/// defaults are OpenAI's, which DashScope (Qwen), Moonshot and Zhipu (GLM, with `endpoint =
/// "/v4/chat/completions"`) share.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BatchConfig {
    /// The file and batch endpoints, below `base_url`.
    pub files_path: String,
    pub batches_path: String,
    /// The `url` each request line names: the chat endpoint's path as the batch service
    /// expects it.
    pub endpoint: String,
    pub completion_window: String,
    /// A provider's limits per input file; a larger run is split into several batches.
    pub max_lines: usize,
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

/// The `[draft]` table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DraftConfig {
    /// The template in the prompts folder, without `.jinja`.
    pub template: String,
    /// Candidates per question.
    pub candidates: u32,
    /// Characters of neighbouring answers given to the model as style examples.
    pub example_chars: usize,
    /// Characters of reference material per prompt, shared fairly between the references.
    pub ref_chars: usize,
    /// Seconds one reference URL may take to fetch, start to end.
    pub ref_timeout: u64,
    /// Send each chapter's name as `prompt_cache_key` (OpenAI), so that its prompts meet
    /// the same cache.
    pub prompt_cache_key: bool,
    /// When a chapter's shared prompt prefix is estimated at this many tokens or more (the
    /// providers' caching starts at 1,024), its first request goes alone until the answer
    /// starts, so that the rest find the prefix cached. 0 sends everything at once.
    pub cache_warmup: u64,
}

impl Default for DraftConfig {
    fn default() -> Self {
        DraftConfig {
            template: "default".into(),
            candidates: 1,
            example_chars: 4000,
            ref_chars: 8000,
            ref_timeout: 60,
            prompt_cache_key: false,
            cache_warmup: 1024,
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

    pub fn content_dir(&self) -> PathBuf {
        self.root.join(&self.config.paths.content)
    }

    pub fn drafts_dir(&self) -> PathBuf {
        self.root.join(&self.config.paths.drafts)
    }

    pub fn prompts_dir(&self) -> PathBuf {
        self.root.join(&self.config.paths.prompts)
    }

    pub fn refs_dir(&self) -> PathBuf {
        self.root.join(&self.config.paths.refs)
    }

    /// Fetched reference pages, by URL.
    pub fn refs_cache_dir(&self) -> PathBuf {
        self.drafts_dir().join(".cache/refs")
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
