//! The book's vocabulary: `prompts/glossary.toml` names each term's preferred form and the
//! forms to avoid (`[[terms]] use = "扩散模型", avoid = ["diffusion模型"]`). Templates list the
//! preferred forms; the quality gate and `check` find the avoided ones in prose (never in
//! code, which names things as the code does).

use std::ops::Range;
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use anyhow::{Context as _, Result, bail};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

/// The glossary's file in the prompts folder.
pub const FILE: &str = "glossary.toml";

/// One term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    /// The form the book writes.
    #[serde(rename = "use")]
    pub preferred: String,
    /// Forms it does not write.
    #[serde(default)]
    pub avoid: Vec<String>,
    /// Why, or when the term applies; shown to the model (`none` in templates when absent).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    terms: Vec<Term>,
}

/// The terms, with one automaton over every avoided form.
#[derive(Debug, Clone)]
pub struct Glossary {
    terms: Vec<Term>,
    matcher: AhoCorasick,
    /// For each pattern of the automaton: (term, avoided form).
    forms: Vec<(usize, usize)>,
}

/// An avoided form found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit<'g> {
    /// Where, in bytes of the text.
    pub range: Range<usize>,
    /// The form found, as the glossary writes it.
    pub avoided: &'g str,
    /// What the book writes instead.
    pub preferred: &'g str,
}

impl Glossary {
    /// The glossary of `terms`; an empty form or a term that avoids its own form is an error.
    pub fn new(terms: Vec<Term>) -> Result<Glossary> {
        let mut patterns = Vec::new();
        let mut forms = Vec::new();
        for (t, term) in terms.iter().enumerate() {
            if term.preferred.trim().is_empty() {
                bail!("a term with an empty `use`");
            }
            for (a, avoid) in term.avoid.iter().enumerate() {
                if avoid.trim().is_empty() || avoid == &term.preferred {
                    bail!(
                        "term `{}` avoids {avoid:?}, which cannot be found apart from it",
                        term.preferred
                    );
                }
                patterns.push(avoid.as_str());
                forms.push((t, a));
            }
        }
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)?;
        Ok(Glossary { terms, matcher, forms })
    }

    /// `prompts/glossary.toml`, or `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Glossary>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let file: File = toml::from_str(&text).with_context(|| format!("{} is not a glossary", path.display()))?;
        Glossary::new(file.terms)
            .map(Some)
            .with_context(|| format!("in {}", path.display()))
    }

    /// The terms, in the file's order.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// The avoided forms in the prose of `markdown` (not in code spans or blocks), in order.
    /// A form counts only as a whole word where it starts or ends with a Latin letter or
    /// digit, and not inside the preferred form (`扩散` inside `扩散模型`).
    pub fn avoided_in<'g>(&'g self, markdown: &str) -> Vec<Hit<'g>> {
        let mut out = Vec::new();
        if self.forms.is_empty() {
            return out;
        }
        let mut in_code = false;
        for (event, range) in Parser::new_ext(markdown, crate::chapter::parser_options()).into_offset_iter() {
            match event {
                Event::Start(Tag::CodeBlock(_)) => in_code = true,
                Event::End(TagEnd::CodeBlock) => in_code = false,
                Event::Text(_) if !in_code => self.find(markdown, range, &mut out),
                _ => {}
            }
        }
        out
    }

    fn find<'g>(&'g self, text: &str, within: Range<usize>, out: &mut Vec<Hit<'g>>) {
        let slice = &text[within.clone()];
        for m in self.matcher.find_iter(slice) {
            let (t, a) = self.forms[m.pattern().as_usize()];
            let term = &self.terms[t];
            let (start, end) = (within.start + m.start(), within.start + m.end());
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            let form = &term.avoid[a];
            let glued = (word(form.chars().next()) && word(text[..start].chars().next_back()))
                || (word(form.chars().next_back()) && word(text[end..].chars().next()));
            if glued || inside_preferred(text, start..end, &term.preferred) {
                continue;
            }
            out.push(Hit {
                range: start..end,
                avoided: form,
                preferred: &term.preferred,
            });
        }
    }
}

/// Whether `range` of `text` lies inside an occurrence of `preferred`.
fn inside_preferred(text: &str, range: Range<usize>, preferred: &str) -> bool {
    let from = floor(text, range.start.saturating_sub(preferred.len()));
    let to = ceil(text, (range.end + preferred.len()).min(text.len()));
    text[from..to]
        .match_indices(preferred)
        .any(|(i, p)| from + i <= range.start && range.end <= from + i + p.len())
}

fn floor(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// `writes "diffusion模型" (2×) where the book writes "扩散模型"`, one clause per form.
pub fn describe(hits: &[Hit]) -> Option<String> {
    let mut counted: Vec<(&str, &str, usize)> = Vec::new();
    for h in hits {
        match counted.iter_mut().find(|(a, _, _)| *a == h.avoided) {
            Some(c) => c.2 += 1,
            None => counted.push((h.avoided, h.preferred, 1)),
        }
    }
    let parts: Vec<String> = counted
        .iter()
        .map(|(a, p, n)| {
            let times = if *n > 1 { format!(" ({n}×)") } else { String::new() };
            format!("writes \"{a}\"{times} where the book writes \"{p}\"")
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glossary() -> Glossary {
        Glossary::new(vec![
            Term {
                preferred: "扩散模型".into(),
                avoid: vec!["diffusion模型".into(), "扩散".into()],
                note: None,
            },
            Term {
                preferred: "LoRA".into(),
                avoid: vec!["lora".into()],
                note: Some("always in this case".into()),
            },
        ])
        .unwrap()
    }

    #[test]
    fn avoided_forms_in_prose_only_as_words_and_never_inside_the_preferred_form() {
        let g = glossary();
        let text = "Diffusion模型很流行。扩散模型不算；单独的扩散算。\n\n用 lora 微调，`lora.load()` 与\n\n```\nlora = 1\n```\n\nexplorations 不算。\n";
        let hits: Vec<(&str, &str)> = g
            .avoided_in(text)
            .iter()
            .map(|h| (&text[h.range.clone()], h.avoided))
            .collect();
        assert_eq!(
            hits,
            [("Diffusion模型", "diffusion模型"), ("扩散", "扩散"), ("lora", "lora")]
        );
        assert_eq!(
            describe(&g.avoided_in("扩散 与 扩散 与 lora")).unwrap(),
            "writes \"扩散\" (2×) where the book writes \"扩散模型\"; writes \"lora\" where the book writes \"LoRA\""
        );
    }

    #[test]
    fn a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("glossary.toml");
        std::fs::write(&path, "[[terms]]\nuse = \"A\"\navoid = [\"A\"]\n").unwrap();
        let e = format!("{:#}", Glossary::load(&path).unwrap_err());
        assert!(e.contains("glossary.toml") && e.contains("avoids \"A\""), "{e}");
        std::fs::write(&path, "[[terms]]\nuse = \"A\"\nprefer = 1\n").unwrap();
        assert!(format!("{:#}", Glossary::load(&path).unwrap_err()).contains("is not a glossary"));
        assert!(Glossary::load(&dir.path().join("none.toml")).unwrap().is_none());
    }
}
