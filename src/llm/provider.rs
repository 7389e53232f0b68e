//! The effective provider settings: flags over environment over `aigcq.toml` over defaults,
//! each value remembering where it came from so that `aigcq config` can say so.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The API used when none is set.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The environment variable holding the key, unless `api_key_env` names another.
pub const DEFAULT_KEY_ENV: &str = "OPENAI_API_KEY";
/// The environment variable that sets `base_url`.
pub const BASE_URL_ENV: &str = "OPENAI_BASE_URL";
/// The environment variable that sets the model.
pub const MODEL_ENV: &str = "AIGCQ_MODEL";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum Source {
    /// aigcq's default.
    Default,
    /// The configuration file.
    File,
    /// An environment variable, by name.
    Env(String),
    /// A command-line flag, by name.
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File => f.write_str("aigcq.toml"),
            Source::Env(name) => write!(f, "${name}"),
            Source::Flag(name) => write!(f, "--{name}"),
        }
    }
}

/// A value and its source.
#[derive(Debug, Clone, Serialize)]
pub struct Setting<T> {
    /// The value in force.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

/// An API key. It has no `Display`, its `Debug` is redacted, and it is not `Serialize`, so it
/// cannot reach output, logs or files by accident; [`ApiKey::expose`] is for the header only.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `s` with every occurrence of the key replaced by `[redacted]`: for any text a server
    /// sends back, which may echo the key. Keys under 4 characters are not secrets worth
    /// mangling text for.
    pub fn redact<'s>(&self, s: &'s str) -> std::borrow::Cow<'s, str> {
        if self.0.len() >= 4 && s.contains(&self.0) {
            s.replace(&self.0, "[redacted]").into()
        } else {
            s.into()
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// The command-line flags that override settings.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--base-url`.
    pub base_url: Option<String>,
    /// `--model`.
    pub model: Option<String>,
    /// `--concurrency`.
    pub concurrency: Option<usize>,
    /// `--temperature`.
    pub temperature: Option<f64>,
    /// `--max-tokens`.
    pub max_tokens: Option<u32>,
}

/// Every provider setting, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    /// The API's base URL (ending in `/v1` for most).
    pub base_url: Setting<String>,
    /// The model, if one is set.
    pub model: Setting<Option<String>>,
    /// The environment variable the key is read from.
    pub api_key_env: Setting<String>,
    /// Whether the variable named by `api_key_env` is set; the key itself is never shown.
    pub api_key_present: bool,
    #[serde(serialize_with = "secs")]
    /// How long the server may send nothing before an attempt fails.
    pub timeout: Setting<Duration>,
    /// Attempts after the first for a failure worth retrying.
    pub max_retries: Setting<u32>,
    /// Requests in flight at most.
    pub concurrency: Setting<usize>,
    /// Sent as `temperature`, when set.
    pub temperature: Setting<Option<f64>>,
    /// The answer length limit, when set.
    pub max_tokens: Setting<Option<u32>>,
    /// Which field carries the limit.
    pub token_param: Setting<TokenParam>,
    /// Header names only: values may hold credentials.
    #[serde(serialize_with = "names")]
    pub headers: BTreeMap<String, String>,
    /// Merged into every request body.
    pub extra_body: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    /// The key, when its variable is set.
    pub api_key: Option<ApiKey>,
}

fn secs<S: serde::Serializer>(t: &Setting<Duration>, s: S) -> Result<S::Ok, S::Error> {
    Setting {
        value: t.value.as_secs_f64(),
        source: t.source.clone(),
    }
    .serialize(s)
}

fn names<S: serde::Serializer>(h: &BTreeMap<String, String>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(h.keys())
}

/// A URL as aigcq prints it: without user name or password, and with the value of every
/// query parameter (an `api-key=` is common) replaced by `[redacted]`.
pub fn display_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        // Not a URL: shown without what could be a password or a query.
        let head = url.split('?').next().unwrap_or_default();
        return match head.rsplit_once('@') {
            Some((_, host)) => format!("[redacted]@{host}"),
            None => head.to_owned(),
        };
    };
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let names: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let query: Vec<String> = names.iter().map(|k| format!("{k}=[redacted]")).collect();
        u.set_query(Some(&query.join("&")));
    }
    u.to_string()
}

/// Picks the first value present, from the most to the least specific source.
fn pick<T>(candidates: [(Option<T>, Source); 3], default: T) -> Setting<T> {
    candidates
        .into_iter()
        .find_map(|(v, source)| v.map(|value| Setting { value, source }))
        .unwrap_or(Setting {
            value: default,
            source: Source::Default,
        })
}

fn flag<T>(v: Option<T>, name: &str) -> (Option<T>, Source) {
    (v, Source::Flag(name.into()))
}

fn file<T>(v: Option<T>) -> (Option<T>, Source) {
    (v, Source::File)
}

fn none<T>() -> (Option<T>, Source) {
    (None, Source::Default)
}

impl Provider {
    /// Resolves the settings. `env` looks up environment variables (a parameter so that tests
    /// need not touch the process environment). Fails on values no request could succeed with.
    pub fn resolve(
        file_cfg: &ProviderConfig,
        env: impl Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Provider> {
        let env_var = |name: &str| {
            let v = env(name).filter(|v| !v.trim().is_empty());
            (v, Source::Env(name.into()))
        };
        let base_url = pick(
            [
                flag(flags.base_url.clone(), "base-url"),
                env_var(BASE_URL_ENV),
                file(file_cfg.base_url.clone()),
            ],
            DEFAULT_BASE_URL.to_owned(),
        );
        let model = pick(
            [
                flag(flags.model.clone().map(Some), "model"),
                {
                    let (v, s) = env_var(MODEL_ENV);
                    (v.map(Some), s)
                },
                file(file_cfg.model.clone().map(Some)),
            ],
            None,
        );
        let api_key_env = pick(
            [none(), none(), file(file_cfg.api_key_env.clone())],
            DEFAULT_KEY_ENV.to_owned(),
        );
        let api_key = env(&api_key_env.value)
            .filter(|k| !k.trim().is_empty())
            .map(|k| ApiKey(k.trim().to_owned()));
        let timeout_secs = pick([none(), none(), file(file_cfg.timeout)], 120.0);
        if !(timeout_secs.value.is_finite() && timeout_secs.value > 0.0) {
            bail!("[provider] timeout must be a positive number of seconds");
        }
        let concurrency = pick(
            [
                flag(flags.concurrency, "concurrency"),
                none(),
                file(file_cfg.concurrency),
            ],
            4,
        );
        if concurrency.value == 0 {
            bail!("concurrency must be at least 1 (from {})", concurrency.source);
        }
        let temperature = pick(
            [
                flag(flags.temperature.map(Some), "temperature"),
                none(),
                file(file_cfg.temperature.map(Some)),
            ],
            None,
        );
        let max_tokens = pick(
            [
                flag(flags.max_tokens.map(Some), "max-tokens"),
                none(),
                file(file_cfg.max_tokens.map(Some)),
            ],
            None,
        );
        let url = reqwest::Url::parse(&base_url.value).map_err(|e| {
            anyhow::anyhow!(
                "base URL {:?} (from {}): {e}",
                display_url(&base_url.value),
                base_url.source
            )
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            bail!(
                "base URL {} (from {}) holds a user name or password; aigcq sends the key as a Bearer token: \
                 remove it from the URL and put the key in ${} (or name another variable with api_key_env)",
                display_url(&base_url.value),
                base_url.source,
                api_key_env.value
            );
        }
        if let Some(t) = temperature
            .value
            .filter(|t| !(t.is_finite() && (0.0..=2.0).contains(t)))
        {
            bail!("temperature {t} (from {}) must be between 0 and 2", temperature.source);
        }
        if !matches!(url.scheme(), "http" | "https") {
            bail!(
                "base URL {} (from {}) must start with http:// or https://",
                display_url(&base_url.value),
                base_url.source
            );
        }
        let extra_body = serde_json::to_value(&file_cfg.extra_body)?
            .as_object()
            .cloned()
            .unwrap_or_default();
        Ok(Provider {
            timeout: Setting {
                value: Duration::from_secs_f64(timeout_secs.value),
                source: timeout_secs.source,
            },
            max_retries: pick([none(), none(), file(file_cfg.max_retries)], 4),
            token_param: pick([none(), none(), file(file_cfg.token_param)], TokenParam::MaxTokens),
            headers: file_cfg.headers.clone(),
            base_url,
            model,
            api_key_env,
            api_key_present: api_key.is_some(),
            api_key,
            concurrency,
            temperature,
            max_tokens,
            extra_body,
        })
    }

    /// The settings as `aigcq config` shows them: URLs without secrets.
    pub fn shown(&self) -> Provider {
        let mut p = self.clone();
        p.base_url.value = display_url(&p.base_url.value);
        p.api_key = None;
        p
    }

    /// The host (and port) of the base URL, recorded in drafts.
    pub fn host(&self) -> String {
        reqwest::Url::parse(&self.base_url.value)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| u.port().map_or_else(|| h.to_owned(), |p| format!("{h}:{p}")))
            })
            .unwrap_or_default()
    }

    /// Refuses to send a key in clear text to another machine: plain `http://` is only for
    /// loopback unless `allow_insecure`.
    pub fn check_transport(&self, allow_insecure: bool) -> Result<()> {
        let url = reqwest::Url::parse(&self.base_url.value)?;
        if url.scheme() == "http" && !is_loopback(&url) && self.api_key.is_some() && !allow_insecure {
            bail!(
                "refusing to send the API key over plain http:// to {} (use https://, or --allow-insecure)",
                url.host_str().unwrap_or("?")
            );
        }
        Ok(())
    }
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `[::1]`).
pub fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `[provider]` table: the OpenAI-compatible API to draft with. Unset fields fall back to
/// the environment and then to defaults; see [`Provider::resolve`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// The API's base URL.
    pub base_url: Option<String>,
    /// The model.
    pub model: Option<String>,
    /// The name of the environment variable holding the key; never the key itself.
    pub api_key_env: Option<String>,
    /// Seconds without any data from the server before an attempt fails.
    pub timeout: Option<f64>,
    /// Attempts after the first for a failure worth retrying.
    pub max_retries: Option<u32>,
    /// Requests in flight at most.
    pub concurrency: Option<usize>,
    /// Sent as `temperature`.
    pub temperature: Option<f64>,
    /// The answer length limit.
    pub max_tokens: Option<u32>,
    /// Which field carries the limit.
    pub token_param: Option<TokenParam>,
    /// Extra HTTP headers sent with every request.
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
    /// `max_tokens`.
    MaxTokens,
    /// `max_completion_tokens` (OpenAI's reasoning models).
    MaxCompletionTokens,
}

impl TokenParam {
    /// The field's name in the request body.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenParam::MaxTokens => "max_tokens",
            TokenParam::MaxCompletionTokens => "max_completion_tokens",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn flags_beat_environment_beat_file_beat_defaults() {
        let file_cfg = ProviderConfig {
            base_url: Some("https://file.example/v1".into()),
            model: Some("file-model".into()),
            concurrency: Some(3),
            ..Default::default()
        };
        let env = env_of(&[(BASE_URL_ENV, "https://env.example/v1"), (MODEL_ENV, "env-model")]);
        let p = Provider::resolve(&file_cfg, &env, &Overrides::default()).unwrap();
        assert_eq!(p.base_url.value, "https://env.example/v1");
        assert_eq!(p.base_url.source, Source::Env(BASE_URL_ENV.into()));
        assert_eq!(p.model.value.as_deref(), Some("env-model"));
        assert_eq!(p.concurrency.value, 3);
        assert_eq!(p.concurrency.source, Source::File);
        assert_eq!(p.max_retries.source, Source::Default);

        let flags = Overrides {
            model: Some("flag-model".into()),
            concurrency: Some(9),
            ..Default::default()
        };
        let p = Provider::resolve(&file_cfg, &env, &flags).unwrap();
        assert_eq!(p.model.value.as_deref(), Some("flag-model"));
        assert_eq!(p.model.source, Source::Flag("model".into()));
        assert_eq!(p.concurrency.value, 9);

        let p = Provider::resolve(&ProviderConfig::default(), env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(p.base_url.value, DEFAULT_BASE_URL);
        assert_eq!(p.model.value, None);
        assert!(!p.api_key_present);
    }

    #[test]
    fn the_key_comes_from_the_named_variable_and_never_prints() {
        let file_cfg = ProviderConfig {
            api_key_env: Some("DEEPSEEK_API_KEY".into()),
            ..Default::default()
        };
        let p = Provider::resolve(
            &file_cfg,
            env_of(&[("DEEPSEEK_API_KEY", "sk-secret-1")]),
            &Overrides::default(),
        )
        .unwrap();
        assert!(p.api_key_present);
        assert_eq!(p.api_key.as_ref().unwrap().expose(), "sk-secret-1");
        assert!(!format!("{p:?}").contains("sk-secret-1"));
        assert!(!serde_json::to_string(&p).unwrap().contains("sk-secret-1"));
    }

    #[test]
    fn plain_http_with_a_key_only_to_loopback() {
        let env = env_of(&[(DEFAULT_KEY_ENV, "sk-x")]);
        let with = |url: &str| Overrides {
            base_url: Some(url.into()),
            ..Default::default()
        };
        for ok in [
            "http://127.0.0.1:8080/v1",
            "http://localhost/v1",
            "http://[::1]:1/v1",
            "https://api.example/v1",
        ] {
            let p = Provider::resolve(&ProviderConfig::default(), &env, &with(ok)).unwrap();
            p.check_transport(false).unwrap();
        }
        let p = Provider::resolve(&ProviderConfig::default(), &env, &with("http://10.0.0.5:8000/v1")).unwrap();
        let e = p.check_transport(false).unwrap_err().to_string();
        assert!(e.contains("--allow-insecure") && e.contains("10.0.0.5"), "{e}");
        p.check_transport(true).unwrap();
    }

    #[test]
    fn bad_values_are_errors_naming_their_source() {
        let e = Provider::resolve(
            &ProviderConfig::default(),
            env_of(&[(BASE_URL_ENV, "ftp://x")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("$OPENAI_BASE_URL"), "{e}");
        let flags = Overrides {
            concurrency: Some(0),
            ..Default::default()
        };
        let e = Provider::resolve(&ProviderConfig::default(), env_of(&[]), &flags)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--concurrency"), "{e}");
        for t in [f64::NAN, f64::INFINITY, -0.1, 2.5] {
            let flags = Overrides {
                temperature: Some(t),
                ..Default::default()
            };
            let e = Provider::resolve(&ProviderConfig::default(), env_of(&[]), &flags)
                .unwrap_err()
                .to_string();
            assert!(e.contains("between 0 and 2") && e.contains("--temperature"), "{e}");
        }
    }

    #[test]
    fn urls_are_shown_without_secrets() {
        assert_eq!(
            display_url("https://api.example/v1?api-key=s3cret&x=1"),
            "https://api.example/v1?api-key=[redacted]&x=[redacted]"
        );
        assert_eq!(display_url("https://u:p@api.example/v1"), "https://api.example/v1");
        assert_eq!(display_url("not a url u:p@host?k=v"), "[redacted]@host");
    }
}
