//! What the review draws: a candidate's header and diff (or whole answer), the key bar, what
//! made a draft, the answers around a question, the changes between two answers. Text from
//! drafts and chapters is escaped ([`out::safe`]); the styling is the app's own.

use std::path::Path;

use anyhow::Result;
use console::{measure_text_width, style, truncate_str};

use crate::app::output::{self as out, safe as visible};
use aigcq::chapter::Chapter;
use aigcq::review::diff;
use aigcq::review::merge::{Edit, State};
use aigcq::review::{self, Checked, Review};
use aigcq::scan;
use aigcq::store;

pub const KEYS: [(&str, &str); 15] = [
    ("a", "accept"),
    ("r", "reject"),
    ("s", "skip"),
    ("e", "edit"),
    ("f", "feedback"),
    ("n/p", "candidate"),
    ("=", "compare"),
    ("d", "diff/answer"),
    ("b", "back"),
    (":", "go to"),
    ("u", "undo"),
    ("i", "prompt"),
    ("c", "context"),
    ("q", "quit"),
    ("?", "help"),
];

// Each row starts with its two spaces on the first line too: a `\` line continuation would
// strip them (the misaligned first row).
pub const HELP: &str = concat!(
    "  a  accept: merge this candidate; the question's other candidates are rejected\n",
    "  r  reject this candidate (kept under drafts/.rejected/ unless --purge)\n",
    "  s  skip: keep the question's drafts pending for a later review\n",
    "  e  edit the answer in $VISUAL / $EDITOR, then see the diff\n",
    "  f  feedback: tell the model what to change; its reply is a new candidate\n",
    "  n  next candidate of this question      p  previous candidate\n",
    "  =  compare this candidate with the next one\n",
    "  d  toggle between the diff and the whole answer\n",
    "  b  back to the previous question        :  go to question N of this review\n",
    "  u  undo this session's last accept or reject\n",
    "  i  what the model was told: model, parameters, template, usage, messages\n",
    "  c  the chapter's answers around this question\n",
    "  space j k g G  scroll a screen taller than the terminal (↓ ↑ PgDn PgUp too)\n",
    "  q  quit (decisions made so far stay)    ?  this help",
);

/// Model, parameters, template, usage and the messages that produced the draft. Every value
/// read from the drafts folder is escaped; the styling is the app's.
pub fn info(c: &Checked, named: &str) -> String {
    let d = &c.draft;
    let m = &d.meta;
    let mut out = format!("{}\n", style(format!("── what made {named} ──")).bold());
    let mut line = |label: &str, value: &str| out.push_str(&format!("{label:<10} {}\n", visible(value)));
    line("model", &format!("{} at {}", m.model, m.host));
    line("template", &format!("{} ({})", m.template, m.template_hash));
    line("created", &m.created);
    line("finish", m.finish_reason.as_deref().unwrap_or("(not reported)"));
    if let Some(u) = m.usage {
        line(
            "usage",
            &format!("{} prompt + {} completion tokens", u.prompt_tokens, u.completion_tokens),
        );
    }
    for w in &m.warnings {
        line("warning", &w.to_string());
    }
    for r in &m.references {
        let cut = if r.truncated { ", cut to fit" } else { "" };
        line(
            "reference",
            &format!("{} ({} chars{cut}, {})", r.source, r.chars, r.hash),
        );
    }
    if let (Some(p), Some(f)) = (&m.parent, &m.feedback) {
        line("revises", p);
        line("feedback", f);
    }
    match store::read_prompt(&d.path) {
        Ok(Some(p)) => {
            line("parameters", &serde_json::Value::Object(p.params.clone()).to_string());
            for t in &p.messages {
                out.push_str(&format!(
                    "\n{}\n{}\n",
                    style(format!("[{}]", visible(&t.role))).cyan(),
                    visible(t.content.trim_end())
                ));
            }
        }
        Ok(None) => out.push_str("\n(no prompt was kept with this draft)\n"),
        Err(e) => out.push_str(&format!("\n{}\n", visible(&format!("{e:#}")))),
    }
    out
}

/// The answered questions just before and after this one in its chapter, or why there
/// are none to show. The chapter's text is escaped; the styling is the app's.
pub fn context(review: &Review, c: &Checked) -> Result<Result<String, &'static str>> {
    let Some(path) = &c.file else {
        return Ok(Err("the chapter cannot be read"));
    };
    let text = scan::read_chapter(path)?;
    let chapter = Chapter::parse(&text, review.rules);
    let around = review::neighbours(&chapter, (&c.draft.meta).into());
    if around.is_empty() {
        return Ok(Err("no answered question around this one"));
    }
    let mut out = String::new();
    for (index, question, answer) in around {
        out.push_str(&format!(
            "{}\n{}\n\n",
            style(format!("── {} (#{index}) ──", visible(&question))).bold(),
            visible(answer.trim_end())
        ));
    }
    Ok(Ok(out))
}

/// The terminal rows `line` takes at `width` columns.
pub fn rows(line: &str, width: usize) -> usize {
    measure_text_width(line).div_ceil(width.max(1)).max(1)
}

/// The key bar, fitting `width` columns: words for as many keys as fit, in order, letters for
/// the rest; `? help` always.
pub fn legend(width: usize) -> String {
    let (last, keys) = KEYS.split_last().expect("keys");
    let bar = |worded: usize| {
        let words = keys[..worded].iter().map(|(k, w)| format!("{k} {w}"));
        let letters = keys[worded..].iter().map(|(k, _)| *k).collect::<Vec<_>>().join(" ");
        let mut parts: Vec<String> = words.collect();
        parts.extend((!letters.is_empty()).then_some(letters));
        parts.push(format!("{} {}", last.0, last.1));
        parts.join(" · ")
    };
    (0..=keys.len())
        .rev()
        .map(bar)
        .find(|b| measure_text_width(b) <= width)
        .unwrap_or_else(|| bar(0))
}

/// The header and the diff (or the whole answer) of one candidate, `width` columns wide;
/// `blind` leaves its model out.
pub fn render(
    review: &Review,
    c: &Checked,
    (n, total): (usize, usize),
    (k, of): (usize, usize),
    (whole, blind): (bool, bool),
    cwd: &Path,
    width: usize,
) -> String {
    let m = &c.draft.meta;
    let file = c
        .file
        .as_ref()
        .map_or_else(|| m.chapter.clone(), |f| scan::display_path(f, cwd));
    let fit = |s: String| truncate_str(&s, width, "…").into_owned();
    // The draft's own part of the id is enough once the chapter is on the first line.
    let short = c.draft.id.rsplit('/').next().unwrap_or(&c.draft.id);
    let kind = if m.rewrite {
        "rewrite".to_owned()
    } else {
        m.kind.to_string()
    };
    let mut out = format!(
        "{}\n{}\n{}",
        style(fit(format!("── [{n}/{total}] {file} #{} ({kind}) ──", m.index))).bold(),
        visible(&m.question),
        style(fit(visible(&format!(
            "candidate {k} of {of} · {} · {} · {short}",
            if blind { "model hidden (--blind)" } else { &m.model },
            m.created
        ))
        .into_owned()))
        .dim()
    );
    let mut warn = |s: &str| out.push_str(&format!("\n{}", style(format!("! {s}")).yellow()));
    if m.filtered {
        warn("filtered: the provider's content filter stopped the answer");
    }
    if m.truncated {
        warn("truncated: the model stopped at max_tokens");
    }
    for w in m.warnings.iter().filter(|w| w.code != "filtered") {
        warn(&visible(&w.to_string()));
    }
    if let Some(f) = &m.feedback {
        warn(&format!("revised by feedback: {}", visible(f)));
    }
    match &c.state {
        Ok(State::Stale(s)) => warn(&format!("stale: {}", s.reason())),
        Ok(State::Merged) => warn("already in the chapter; accepting only cleans it up"),
        Err(e) => out.push_str(&format!("\n{}", style(format!("! {e}")).red())),
        Ok(State::Ready) => {}
    }
    if let Some(score) = m.score {
        let reasons = m.reasons.as_deref().map(visible).unwrap_or_default();
        let judge = m.judge.as_deref().map(|j| format!(" ({j})")).unwrap_or_default();
        out.push_str(&format!(
            "\n{} {reasons}",
            style(format!("score {score}/10{judge}:")).cyan()
        ));
    }
    out.push_str("\n\n");
    if whole {
        out.push_str(&visible(&c.draft.body));
        return out;
    }
    let Some(path) = &c.file else { return out };
    match std::fs::read_to_string(path) {
        Ok(text) => match review::preview(&text, &c.draft, review.rules).map(|h| out::diff::render(&h, Some(width))) {
            Ok(d) => out.push_str(&d),
            Err(e) => out.push_str(&style(format!("cannot merge: {e}")).red().to_string()),
        },
        Err(e) => out.push_str(&format!("cannot read {}: {e}", path.display())),
    }
    out
}

/// The diff between two answers.
pub fn body_diff(old: &str, new: &str) -> String {
    let edit = Edit {
        range: 0..old.len(),
        text: new.to_owned(),
        order: 0,
    };
    out::diff::render(&diff::hunks(old, &edit, diff::CONTEXT), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aigcq::chapter::{QuestionConfig, Rules};

    /// One review screen as an 80-column terminal without colour shows it: the header cut
    /// to the width, long lines wrapped under the gutter, changed characters marked.
    #[test]
    fn a_screen_at_80_columns_without_colour() {
        console::set_colors_enabled(false);
        let dir = tempfile::tempdir().unwrap();
        let (content, drafts) = (dir.path().join("content"), dir.path().join("drafts"));
        std::fs::create_dir_all(&content).unwrap();
        let text = "# 第一章\n\n## 1、什么是 Seedream 系列模型，它在图像生成和编辑上分别有哪些关键的创新？\n\nSeedream 是字节跳动的文生图模型。\n\n## 2、下一题？\n\n已有的答案，写得足够长，算作真正的回答。\n";
        std::fs::write(content.join("ch.md"), text).unwrap();
        let rules = Rules::new(&QuestionConfig::default()).unwrap();
        let chapter = Chapter::parse(text, &rules);
        // A new version of an answered question, as `draft --rewrite` makes it.
        let gap = chapter.as_gap(&chapter.questions[0], aigcq::chapter::GapKind::Stub);
        let meta = store::Meta {
            chapter: "ch.md".into(),
            question_id: "ch.md#1".into(),
            anchor: gap.anchor.into(),
            question: gap.text.into(),
            index: gap.index,
            kind: gap.kind,
            level: gap.level,
            span_hash: aigcq::identity::span_hash(&chapter, &gap),
            model: "deepseek-chat".into(),
            host: "api.deepseek.com".into(),
            template: "default".into(),
            template_hash: "abc".into(),
            temperature: None,
            created: "2026-12-01T10:00:00Z".into(),
            finish_reason: Some("stop".into()),
            truncated: false,
            filtered: false,
            candidate: 1,
            candidates: 2,
            warnings: vec![],
            usage: None,
            rewrite: true,
            parent: None,
            feedback: None,
            references: Vec::new(),
            score: None,
            reasons: None,
            judge: None,
            judge_template: None,
            batch: None,
        };
        let body = "Seedream 是字节跳动 Seed 团队的文生图模型。\n";
        let s = store::Store::new(drafts.clone());
        s.save(&meta, body).unwrap();
        let review = Review {
            content: &content,
            drafts: &drafts,
            rules: &rules,
            purge: false,
            waiting: &|_| {},
            run: "test".into(),
        };
        let checked = review.check(s.pending().0).remove(0);
        let screen = render(&review, &checked, (1, 4), (1, 2), (false, false), dir.path(), 80);
        for line in screen.lines() {
            assert!(measure_text_width(line) <= 80, "wider than 80 columns: {line:?}");
        }
        insta::assert_snapshot!(format!("{screen}\n{}", legend(80)));
    }

    /// Issue 27: the key bar shows words for as many keys as fit and letters for the rest,
    /// never wider than the terminal; at 160 columns every key has its word.
    #[test]
    fn the_key_bar_has_words_for_as_many_keys_as_fit() {
        let worded = |bar: &str| KEYS.iter().filter(|(k, w)| bar.contains(&format!("{k} {w}"))).count();
        for width in [40, 60, 80, 100, 120, 160] {
            let bar = legend(width);
            assert!(measure_text_width(&bar) <= width, "{width}: {bar}");
            for (k, _) in KEYS {
                assert!(bar.contains(k), "{width}: {k} missing from {bar}");
            }
            assert!(bar.ends_with("? help"), "{bar}");
        }
        let bars = [80, 100, 160].map(|w| worded(&legend(w)));
        assert!(bars[0] > 3 && bars[1] > bars[0] && bars[2] > bars[1], "{bars:?}");
        assert_eq!(worded(&legend(200)), KEYS.len());
    }

    /// Issue 27: `?` fits an 80-column terminal (a wider first row wrapped and looked
    /// misaligned), its second column of keys lines up, and it names every key.
    #[test]
    fn the_help_fits_80_columns_and_names_every_key() {
        for line in HELP.lines() {
            assert!(measure_text_width(line) <= 80, "{line:?}");
        }
        let second: Vec<usize> = HELP
            .lines()
            .filter_map(|l| l.find("  p  ").or(l.find("  :  ")).or(l.find("  ?  ")))
            .collect();
        assert_eq!(second.len(), 3);
        assert!(second.windows(2).all(|w| w[0] == w[1]), "{second:?}");
        for (k, _) in KEYS {
            for key in k.split('/') {
                assert!(HELP.contains(&format!("  {key}  ")), "{key} is not in the help");
            }
        }
        assert!(HELP.contains("scroll"));
    }
}
