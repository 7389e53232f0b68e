//! `aigcq init`: a new question bank with a commented configuration and the default prompt
//! template to edit.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use super::Status;
use aigcq::config::FILE_NAME;

/// The configuration `init` writes: every setting, commented out at its default.
pub const CONFIG_TEMPLATE: &str = include_str!("init_config.toml");

/// The glossary `init` writes: an example, commented out.
const GLOSSARY_TEMPLATE: &str = include_str!("init_glossary.toml");

pub fn run(dir: &Path) -> Result<Status> {
    let config = dir.join(FILE_NAME);
    let targets = [
        config.clone(),
        dir.join("content"),
        dir.join("drafts"),
        dir.join("prompts"),
    ];
    if let Some(existing) = targets.iter().find(|p| p.exists()) {
        bail!("{} already exists; init never overwrites", existing.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for sub in ["content", "drafts", "prompts"] {
        std::fs::create_dir(dir.join(sub)).with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
    }
    std::fs::write(&config, CONFIG_TEMPLATE).with_context(|| format!("cannot write {}", config.display()))?;
    // The built-in template, as a starting point to edit.
    let template = dir
        .join("prompts")
        .join(format!("default.{}", aigcq::prompt::EXTENSION));
    std::fs::write(&template, aigcq::prompt::BUILTIN_DEFAULT)
        .with_context(|| format!("cannot write {}", template.display()))?;
    let glossary = dir.join("prompts").join(aigcq::glossary::FILE);
    std::fs::write(&glossary, GLOSSARY_TEMPLATE).with_context(|| format!("cannot write {}", glossary.display()))?;
    let cd = dir.display().to_string();
    eprintln!(
        "created {} with content/, drafts/, prompts/default.jinja and prompts/glossary.toml\n\
         next:\n  \
         1. put your chapters (Markdown) in {cd}/content/\n  \
         2. aigcq gaps          the questions without an answer\n  \
         3. set [provider] base_url and model in {} (or OPENAI_BASE_URL and AIGCQ_MODEL), the key in $OPENAI_API_KEY\n  \
         4. aigcq draft 1 --dry-run   the prompt of a first question; then aigcq draft, aigcq review",
        config.display(),
        config.display()
    );
    Ok(Status::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aigcq::config::Config;

    #[test]
    fn the_glossary_example_is_an_empty_glossary_and_uncommented_a_valid_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("glossary.toml");
        std::fs::write(&path, GLOSSARY_TEMPLATE).unwrap();
        let g = aigcq::glossary::Glossary::load(&path).unwrap().unwrap();
        assert!(g.terms().is_empty());
        let uncommented: String = GLOSSARY_TEMPLATE
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with('[') || l.contains(" = "))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, uncommented).unwrap();
        let g = aigcq::glossary::Glossary::load(&path).unwrap().unwrap();
        assert_eq!(g.terms().len(), 2);
        assert_eq!(g.avoided_in("用 lora 训练").len(), 1);
    }

    #[test]
    fn template_parses_to_the_defaults() {
        let parsed: Config = toml::from_str(CONFIG_TEMPLATE).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn the_documented_question_patterns_are_the_defaults() {
        // The [questions] values shown commented out, uncommented (multi-line arrays too).
        let table: String = CONFIG_TEMPLATE
            .split("[questions]")
            .nth(1)
            .and_then(|t| t.split("\n[").next())
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = ") || l.starts_with("    ") || *l == "]")
            .collect::<Vec<_>>()
            .join("\n");
        let shown: aigcq::chapter::QuestionConfig = toml::from_str(&table).unwrap();
        assert_eq!(shown, aigcq::chapter::QuestionConfig::default());
    }

    #[test]
    fn every_setting_is_documented() {
        // Provider settings have no default to serialise, so every one is set here.
        let provider = aigcq::llm::provider::ProviderConfig {
            base_url: Some(String::new()),
            model: Some(String::new()),
            api_key_env: Some(String::new()),
            timeout: Some(1.0),
            max_retries: Some(1),
            concurrency: Some(1),
            temperature: Some(1.0),
            max_tokens: Some(1),
            token_param: Some(Default::default()),
            headers: [("h".to_owned(), String::new())].into(),
            extra_body: toml::from_str("x = 1").unwrap(),
        };
        let all = Config {
            provider,
            ..Config::default()
        };
        let defaults = toml::to_string(&all)
            .unwrap()
            .replace("[provider.headers]\nh", "headers")
            .replace("[provider.extra_body]\nx", "extra_body");
        for line in defaults.lines().filter(|l| l.contains(" = ")) {
            let key = line.split(" = ").next().unwrap();
            assert!(
                CONFIG_TEMPLATE.contains(&format!("# {key} = ")),
                "{key} is not in the template"
            );
        }
    }
}
