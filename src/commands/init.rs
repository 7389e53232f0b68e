//! `aigcq init`: a new question bank with a commented configuration.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use super::Status;
use crate::config::FILE_NAME;

/// The configuration `init` writes: every setting, commented out at its default.
pub const CONFIG_TEMPLATE: &str = include_str!("init_config.toml");

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
    eprintln!("created {} with content/, drafts/ and prompts/", config.display());
    Ok(Status::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn template_parses_to_the_defaults() {
        let parsed: Config = toml::from_str(CONFIG_TEMPLATE).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn every_setting_is_documented() {
        let defaults = toml::to_string(&Config::default()).unwrap();
        for line in defaults.lines().filter(|l| l.contains(" = ")) {
            let key = line.split(" = ").next().unwrap();
            assert!(
                CONFIG_TEMPLATE.contains(&format!("# {key} = ")),
                "{key} is not in the template"
            );
        }
    }
}
