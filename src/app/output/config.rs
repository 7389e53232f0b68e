//! `aigcq config`: one line per setting with its source; the key only as present or absent.

use std::io::{self, Write};

use console::style;

use aigcq::llm::provider::{Provider, Setting, Source};

pub fn human(out: &mut impl Write, p: &Provider, file: &str) -> io::Result<()> {
    fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
        v.as_ref().map_or_else(|| "(not set)".into(), T::to_string)
    }
    let mut row = |name: &str, value: String, source: &Source| {
        let from = match source {
            Source::File => file.to_owned(),
            other => other.to_string(),
        };
        writeln!(out, "{name:<13} {value:<40} {}", style(from).dim())
    };
    let s = |v: &Setting<String>| v.value.clone();
    row("base_url", s(&p.base_url), &p.base_url.source)?;
    row("model", opt(&p.model.value), &p.model.source)?;
    let key = if p.api_key_present { "present" } else { "absent" };
    row(
        "api key",
        format!("{key} (${})", p.api_key_env.value),
        &p.api_key_env.source,
    )?;
    row(
        "timeout",
        format!("{} s", p.timeout.value.as_secs_f64()),
        &p.timeout.source,
    )?;
    row("max_retries", p.max_retries.value.to_string(), &p.max_retries.source)?;
    row("concurrency", p.concurrency.value.to_string(), &p.concurrency.source)?;
    row("temperature", opt(&p.temperature.value), &p.temperature.source)?;
    row("max_tokens", opt(&p.max_tokens.value), &p.max_tokens.source)?;
    row(
        "token_param",
        p.token_param.value.as_str().to_owned(),
        &p.token_param.source,
    )?;
    let headers: Vec<&str> = p.headers.keys().map(String::as_str).collect();
    if !headers.is_empty() {
        row("headers", headers.join(", "), &Source::File)?;
    }
    if !p.extra_body.is_empty() {
        row(
            "extra_body",
            serde_json::Value::Object(p.extra_body.clone()).to_string(),
            &Source::File,
        )?;
    }
    Ok(())
}
