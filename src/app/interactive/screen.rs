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

pub const HELP: &str = "\
  a  accept this candidate: merge it into the chapter; the question's other candidates are rejected
  r  reject this candidate (kept under drafts/.rejected/ unless --purge)
  s  skip: keep the question's drafts pending for a later review
  e  edit the answer in $VISUAL / $EDITOR (the front matter is kept aside), then see the diff
  f  feedback: tell the model what to change; its reply becomes a new candidate
  n  next candidate of this question      p  previous candidate
  =  compare this candidate with the next one
  d  toggle between the diff and the whole answer
  b  back to the previous question        :  go to question N of this review
  u  undo this session's last accept or reject
  i  what the model was told: model, parameters, template, usage and messages
  c  the chapter's answers around this question
  q  quit (decisions made so far stay)    ?  this help";

/// Model, parameters, template, usage and the messages that produced the draft.
pub fn info(c: &Checked, named: &str) -> String {
    let d = &c.draft;
    let m = &d.meta;
    let mut out = format!("{}\n", style(format!("── what made {named} ──")).bold());
    out.push_str(&format!("model      {} at {}\n", m.model, m.host));
    out.push_str(&format!("template   {} ({})\n", m.template, m.template_hash));
    out.push_str(&format!("created    {}\n", m.created));
    out.push_str(&format!(
        "finish     {}\n",
        m.finish_reason.as_deref().unwrap_or("(not reported)")
    ));
    if let Some(u) = m.usage {
        out.push_str(&format!(
            "usage      {} prompt + {} completion tokens\n",
            u.prompt_tokens, u.completion_tokens
        ));
    }
    for w in &m.warnings {
        out.push_str(&format!("warning    {w}\n"));
    }
    for r in &m.references {
        let cut = if r.truncated { ", cut to fit" } else { "" };
        out.push_str(&format!(
            "reference  {} ({} chars{cut}, {})\n",
            r.source, r.chars, r.hash
        ));
    }
    if let (Some(p), Some(f)) = (&m.parent, &m.feedback) {
        out.push_str(&format!("revises    {p}\nfeedback   {f}\n"));
    }
    match store::read_prompt(&d.path) {
        Ok(Some(p)) => {
            out.push_str(&format!("parameters {}\n", serde_json::Value::Object(p.params.clone())));
            for t in &p.messages {
                out.push_str(&format!(
                    "\n{}\n{}\n",
                    style(format!("[{}]", t.role)).cyan(),
                    t.content.trim_end()
                ));
            }
        }
        Ok(None) => out.push_str("\n(no prompt was kept with this draft)\n"),
        Err(e) => out.push_str(&format!("\n{e:#}\n")),
    }
    visible(&out).into_owned()
}

/// The answered questions just before and after this one in its chapter, or why there
/// are none to show.
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
            style(format!("── {question} (#{index}) ──")).bold(),
            answer.trim_end()
        ));
    }
    Ok(Ok(visible(&out).into_owned()))
}

/// The key bar, fitting `width` columns: words when they fit, keys alone otherwise.
pub fn legend(width: usize) -> String {
    let long = KEYS
        .iter()
        .map(|(k, w)| format!("{k} {w}"))
        .collect::<Vec<_>>()
        .join(" · ");
    if measure_text_width(&long) <= width {
        return long;
    }
    let short = KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(" ");
    format!("{short} · ? help")
}

/// The header and the diff (or the whole answer) of one candidate, `width` columns wide.
pub fn render(
    review: &Review,
    c: &Checked,
    (n, total): (usize, usize),
    (k, of): (usize, usize),
    whole: bool,
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
            m.model, m.created
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
        let screen = render(&review, &checked, (1, 4), (1, 2), false, dir.path(), 80);
        for line in screen.lines() {
            assert!(measure_text_width(line) <= 80, "wider than 80 columns: {line:?}");
        }
        insta::assert_snapshot!(format!("{screen}\n{}", legend(80)));
    }
}
