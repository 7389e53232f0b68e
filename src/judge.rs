//! `aigcq judge`: a second model scores each pending draft from 1 to 10 against its
//! question, its references and a rubric (`prompts/judge.jinja`), so that a queue of
//! hundreds of drafts can be sorted and filtered. The verdict (`score`, `reasons`) goes into
//! the draft's front matter; output that is no valid verdict is retried once, then an error
//! for that draft, never a made-up score.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::chapter::{Chapter, Rules};
use crate::llm::Messages;
use crate::llm::client::Client;
use crate::llm::provider::{Overrides, ProviderConfig};
use crate::prompt::Templates;
use crate::refs::{Reference, Refs};
use crate::store::{self, Draft};
use crate::text::language;

/// How the judge is asked for JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// `response_format: {type: json_schema}` with the verdict's schema (OpenAI, vLLM,
    /// llama.cpp); a server that rejects it is asked again without, for the rest of the run.
    #[default]
    JsonSchema,
    /// `response_format: {type: json_object}` (DeepSeek, Qwen, GLM, Moonshot).
    JsonObject,
    /// Nothing sent: the reply is parsed and validated.
    None,
}

impl ResponseFormat {
    /// The request field, if any.
    pub fn field(self) -> Option<Value> {
        match self {
            ResponseFormat::JsonSchema => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": "verdict", "strict": true, "schema": schema()},
            })),
            ResponseFormat::JsonObject => Some(json!({"type": "json_object"})),
            ResponseFormat::None => None,
        }
    }
}

/// The JSON schema of a verdict.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "score": {"type": "integer", "minimum": 1, "maximum": 10},
            "reasons": {"type": "string"},
        },
        "required": ["score", "reasons"],
        "additionalProperties": false,
    })
}

/// A judge's score, 1 to 10, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// 1 to 10.
    pub score: u8,
    /// Why, in the judge's words.
    pub reasons: String,
}

/// The winner in a pairwise reply: `{"winner": "A" | "B" | "tie"}` (alone, fenced or after
/// reasoning), as `Some(true)` for A, `Some(false)` for B, `None` for a tie.
pub fn parse_preference(reply: &str) -> Result<Option<bool>, String> {
    let text = reply
        .rfind("</think>")
        .map_or(reply, |end| &reply[end + "</think>".len()..]);
    let start = text.find('{').ok_or("the reply holds no JSON object")?;
    let end = text
        .rfind('}')
        .filter(|e| *e > start)
        .ok_or("the JSON object is not closed")?;
    let v: Value = serde_json::from_str(&text[start..=end]).map_err(|e| format!("not JSON: {e}"))?;
    match v.get("winner").and_then(Value::as_str).map(str::trim) {
        Some(w) if w.eq_ignore_ascii_case("a") => Ok(Some(true)),
        Some(w) if w.eq_ignore_ascii_case("b") => Ok(Some(false)),
        Some(w) if w.eq_ignore_ascii_case("tie") => Ok(None),
        _ => Err("winner must be \"A\", \"B\" or \"tie\"".into()),
    }
}

/// The verdict in a reply: its JSON object (alone, in a code fence, or after reasoning),
/// with an integer `score` from 1 to 10 and non-empty `reasons`.
pub fn parse_verdict(reply: &str) -> Result<Verdict, String> {
    let text = match reply.rfind("</think>") {
        Some(end) => &reply[end + "</think>".len()..],
        None => reply,
    };
    let start = text.find('{').ok_or("the reply holds no JSON object")?;
    let end = text
        .rfind('}')
        .filter(|&e| e > start)
        .ok_or("the reply's JSON object is not closed")?;
    let v: Value = serde_json::from_str(&text[start..=end]).map_err(|e| format!("the reply is not valid JSON: {e}"))?;
    let score = v
        .get("score")
        .and_then(Value::as_f64)
        .ok_or("the reply has no numeric \"score\"")?;
    if score.fract() != 0.0 || !(1.0..=10.0).contains(&score) {
        return Err(format!("the score {score} is not a whole number from 1 to 10"));
    }
    let reasons = v
        .get("reasons")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or("the reply has no \"reasons\"")?;
    Ok(Verdict {
        score: score as u8,
        reasons: cap(reasons, MAX_REASONS),
    })
}

/// The longest reasons kept: a verdict explains a score in a few sentences; a reply that
/// goes on (or a hostile one of megabytes) is cut, and says so.
pub const MAX_REASONS: usize = 2000;

/// `s` cut to at most `max` characters, with `…` where it was cut.
pub fn cap(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// What the judge template gets. Documented in the README.
#[derive(Debug, Serialize)]
pub struct JudgeContext<'a> {
    /// The question the draft answers.
    pub question: Judged<'a>,
    /// The draft's answer.
    pub answer: &'a str,
    /// The references the draft was made from.
    pub references: &'a [Reference],
    /// The chapter it belongs to.
    pub chapter: ChapterInfo<'a>,
    /// The chapter's: `zh` or `en`.
    pub language: &'static str,
    /// The answer was cut at `max_tokens`.
    pub truncated: bool,
    /// The provider's content filter stopped it.
    pub filtered: bool,
    /// What clean-up and the gate found (`code`, `message`); the score is capped by them
    /// ([`ceiling`]).
    pub warnings: &'a [store::Warning],
}

/// The most a draft may score with what it carries, and why: a judge is often a small model,
/// and its score must never hide what aigcq itself saw. Answer in the wrong language: 2; on
/// another question (`question`, `topic`) or stopped by the content filter: 3; the prompt
/// leaked or a loop (`leak`, `repetition`): 4; cut at `max_tokens` or copied: 5; any other
/// warning (`length`, `lint`, `links`, `cleanup`): 7.
pub fn ceiling(meta: &store::Meta) -> Option<(u8, String)> {
    let mut found: Vec<(u8, String)> = meta
        .warnings
        .iter()
        .map(|w| {
            let cap = match w.code.as_str() {
                "language" => 2,
                "question" | "topic" | "filtered" => 3,
                "leak" | "repetition" => 4,
                "copied" => 5,
                _ => 7,
            };
            (cap, w.code.clone())
        })
        .collect();
    if meta.truncated {
        found.push((5, "cut at max_tokens".into()));
    }
    if meta.filtered {
        found.push((3, "stopped by the content filter".into()));
    }
    found.into_iter().min()
}

/// `verdict` with its score capped by the draft's [`ceiling`], saying so in its reasons.
pub fn capped(mut verdict: Verdict, meta: &store::Meta) -> Verdict {
    if let Some((cap, why)) = ceiling(meta).filter(|(cap, _)| verdict.score > *cap) {
        verdict.reasons = format!(
            "{} [capped at {cap}: {why}; the judge said {}]",
            verdict.reasons, verdict.score
        );
        verdict.score = cap;
    }
    verdict
}

#[derive(Debug, Serialize)]
/// A question as the rubric sees it.
pub struct Judged<'a> {
    /// The question's text.
    pub text: &'a str,
    /// Its number in the chapter.
    pub index: usize,
    /// Its id.
    pub id: &'a str,
    /// Why it counted as missing.
    pub kind: crate::chapter::GapKind,
    /// For an outline: the sub-questions the answer must cover.
    pub sub_questions: Vec<String>,
}

#[derive(Debug, Serialize)]
/// A chapter as the rubric sees it.
pub struct ChapterInfo<'a> {
    /// Its title.
    pub title: &'a str,
    /// Its path below the content folder.
    pub path: &'a str,
}

/// One run's judge.
pub struct Judge<'a> {
    /// With the response format in its requests.
    pub client: &'a Client,
    /// The same without, for a server that rejects the format.
    pub plain: &'a Client,
    /// The rubric.
    pub templates: Templates,
    /// The drafts' references, when the rubric shows them.
    pub refs: Option<&'a Refs>,
    /// The chapter model's rules.
    pub rules: &'a Rules,
    /// The judging model, recorded with each verdict.
    pub model: &'a str,
    /// Set once the server rejects the response format.
    pub format_rejected: AtomicBool,
}

impl Judge<'_> {
    /// The rubric as a verdict records it: template name and hash.
    pub fn rubric(&self) -> String {
        format!("{} {}", self.templates.name, self.templates.hash)
    }

    /// The prompt for `draft`, whose chapter (as it is now) is `chapter`.
    pub fn messages(&self, draft: &Draft, chapter: &Chapter, references: &[Reference]) -> Result<Messages> {
        let m = &draft.meta;
        let sub_questions = chapter
            .questions
            .iter()
            .find(|q| chapter.heading(q).anchor() == m.anchor)
            .map(|q| chapter.sub_questions(q, self.rules))
            .unwrap_or_default();
        let stem = Path::new(&m.chapter)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(&m.chapter);
        let ctx = JudgeContext {
            question: Judged {
                text: &m.question,
                index: m.index,
                id: &m.question_id,
                kind: m.kind,
                sub_questions,
            },
            answer: draft.body.trim(),
            references,
            chapter: ChapterInfo {
                title: chapter.title().unwrap_or(stem),
                path: &m.chapter,
            },
            language: language(chapter.text()),
            truncated: m.truncated,
            filtered: m.filtered,
            warnings: &m.warnings,
        };
        self.templates.render_for(&ctx, &m.question_id)
    }

    /// Scores `draft`: its references are read again as the draft was made (files under
    /// `refs/`, cached URLs), the judge asked, the reply validated; an invalid verdict is
    /// asked for once more.
    pub async fn judge(&self, draft: &Draft, chapter: &Chapter<'_>) -> Result<Verdict> {
        let references = match self.refs {
            Some(r) => r.references(&draft.meta.chapter, draft.meta.index).await?,
            None => Vec::new(),
        };
        self.judge_against(draft, chapter, &references).await
    }

    /// Which of `a` and `b`, two answers to `question` of a chapter in `language`, is better,
    /// by the pairwise template `pairwise`: `Some(true)` for `a`, `Some(false)` for `b`, `None`
    /// for a tie. Asked without a response format (its JSON is not a verdict's); an invalid
    /// reply is asked for once more.
    pub async fn prefer(
        &self,
        pairwise: &Templates,
        (question, language): (&str, &str),
        a: &str,
        b: &str,
    ) -> Result<Option<bool>> {
        let ctx = json!({"question": {"text": question}, "language": language, "a": a, "b": b});
        let messages = pairwise.render_for(&ctx, question)?;
        let mut last = String::new();
        for _ in 0..2 {
            let reply = self
                .plain
                .complete(&messages, 1, |_, _| {})
                .await
                .map_err(|e| anyhow!(e))?;
            let text = reply.choices.into_iter().next().map(|c| c.content).unwrap_or_default();
            match parse_preference(&text) {
                Ok(p) => return Ok(p),
                Err(e) => last = e,
            }
        }
        bail!("the judge named no winner twice: {last}")
    }

    /// Scores `draft` against `references` (`aigcq eval`: the book's own answer), as
    /// [`Judge::judge`] does.
    pub async fn judge_against(
        &self,
        draft: &Draft,
        chapter: &Chapter<'_>,
        references: &[Reference],
    ) -> Result<Verdict> {
        let messages = self.messages(draft, chapter, references)?;
        let mut last = String::new();
        for _ in 0..2 {
            let reply = self.ask(&messages).await?;
            match parse_verdict(&reply) {
                Ok(v) => return Ok(capped(v, &draft.meta)),
                Err(e) => last = e,
            }
        }
        bail!("the judge gave no valid verdict twice: {last}")
    }

    async fn ask(&self, messages: &Messages) -> Result<String> {
        let client = if self.format_rejected.load(Ordering::Relaxed) {
            self.plain
        } else {
            self.client
        };
        let got = match client.complete(messages, 1, |_, _| {}).await {
            // Some servers know no response_format: ask them as they can be asked.
            Err(e) if e.status() == Some(400) && !std::ptr::eq(client, self.plain) => {
                self.format_rejected.store(true, Ordering::Relaxed);
                self.plain.complete(messages, 1, |_, _| {}).await
            }
            r => r,
        }
        .map_err(|e| anyhow!(e))?;
        got.choices
            .into_iter()
            .next()
            .map(|c| c.content)
            .ok_or_else(|| anyhow!("the judge's reply has no answer"))
    }
}

/// Writes `verdict` into the front matter of the draft at `draft.path` through
/// [`store::Store::update`] (under its chapter's lock, so that no review decides it and no
/// edit is lost meanwhile); a draft decided already is left alone (`Ok(false)`). The body on
/// disk, the author's edits included, is kept.
pub fn record(
    store: &store::Store,
    chapter_path: &Path,
    draft: &Draft,
    verdict: &Verdict,
    (model, rubric): (&str, &str),
) -> Result<bool> {
    store.update(chapter_path, &draft.path, |meta, _| {
        meta.score = Some(verdict.score);
        meta.reasons = Some(verdict.reasons.clone());
        meta.judge = Some(model.to_owned());
        meta.judge_template = Some(rubric.to_owned());
    })
}

/// How the judge's scores agree with the author's decisions (`judge --calibrate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Accepted drafts with a score.
    pub accepted: Group,
    /// Rejected drafts with a score (candidates that lost to an accepted one included).
    pub rejected: Group,
    /// Decisions about drafts that were never judged.
    pub unscored: usize,
    /// The chance that an accepted draft scored higher than a rejected one (ties count half):
    /// 0.5 is no better than chance, 1 a perfect separation. None without both kinds.
    pub auc: Option<f64>,
    /// Accepted and rejected drafts at each score, 1 to 10.
    pub by_score: [(usize, usize); 10],
}

/// Drafts of one decision, with a score.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    /// How many.
    pub count: usize,
    /// Their mean score.
    pub mean: Option<f64>,
}

/// The judge's scores against the author's decisions, each `(accepted, score)`. One pass:
/// scores are 1 to 10, so the pairs are counted by score, never one by one.
pub fn calibrate(decisions: &[(bool, Option<u8>)]) -> Calibration {
    let mut by_score = [(0usize, 0usize); 10];
    let mut unscored = 0;
    for &(accepted, score) in decisions {
        match score.filter(|s| (1..=10).contains(s)) {
            Some(s) if accepted => by_score[usize::from(s) - 1].0 += 1,
            Some(s) => by_score[usize::from(s) - 1].1 += 1,
            None => unscored += 1,
        }
    }
    let group = |pick: fn(&(usize, usize)) -> usize| {
        let count: usize = by_score.iter().map(pick).sum();
        let sum: usize = by_score.iter().enumerate().map(|(i, b)| (i + 1) * pick(b)).sum();
        Group {
            count,
            mean: (count > 0).then(|| sum as f64 / count as f64),
        }
    };
    let (accepted, rejected) = (group(|b| b.0), group(|b| b.1));
    // Pairs (accepted, rejected) in which the accepted one scored higher, ties half.
    let (mut below, mut wins) = (0usize, 0f64);
    for &(a, r) in &by_score {
        wins += a as f64 * (below as f64 + r as f64 / 2.0);
        below += r;
    }
    let pairs = accepted.count * rejected.count;
    Calibration {
        accepted,
        rejected,
        unscored,
        auc: (pairs > 0).then(|| wins / pairs as f64),
        by_score,
    }
}

/// The `[judge]` table: the model that scores drafts (`aigcq judge`, `draft --judge`).
/// Unset fields are the provider's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeConfig {
    /// The judging model (else `[provider]`'s).
    pub model: Option<String>,
    /// Its API (else `[provider]`'s).
    pub base_url: Option<String>,
    /// The name of the environment variable holding the judge's key.
    pub api_key_env: Option<String>,
    /// The rubric, `prompts/<name>.jinja` ("judge" falls back to the built-in one).
    pub template: String,
    /// How the verdict's JSON is asked for.
    pub response_format: ResponseFormat,
    /// Sent as `temperature` (0 by default).
    pub temperature: Option<f64>,
}

impl JudgeConfig {
    /// The judge's provider table and flags: `[judge]`'s key variable and temperature over
    /// `[provider]`'s; for its endpoint and model, `aigcq judge`'s own flags (`own_flags`) win
    /// over `[judge]`, while the drafting flags of `draft --judge` lose to it (the judge's own
    /// endpoint and model win over the drafting ones from the environment). With
    /// `response_format`, the table also asks for the verdict's JSON.
    pub fn settings(&self, provider: &ProviderConfig, flags: &Overrides, own_flags: bool) -> Result<Settings> {
        let mut plain = provider.clone();
        plain.api_key_env = self.api_key_env.clone().or(plain.api_key_env);
        plain.temperature = self.temperature.or(plain.temperature);
        let pick = |flag: &Option<String>, judge: &Option<String>| {
            if own_flags {
                flag.clone().or(judge.clone())
            } else {
                judge.clone().or(flag.clone())
            }
        };
        let overrides = Overrides {
            base_url: pick(&flags.base_url, &self.base_url),
            model: pick(&flags.model, &self.model),
            ..flags.clone()
        };
        let mut formatted = plain.clone();
        if let Some(format) = self.response_format.field() {
            formatted.extra_body.insert(
                "response_format".into(),
                toml::Value::try_from(format).map_err(|e| anyhow!("response_format: {e}"))?,
            );
        }
        Ok(Settings {
            formatted,
            plain,
            overrides,
        })
    }
}

/// What [`JudgeConfig::settings`] works out: the provider table with and without the
/// `response_format` field, and the flags that apply.
pub struct Settings {
    /// The provider table with `response_format` set.
    pub formatted: ProviderConfig,
    /// The same without it, for servers that refuse it.
    pub plain: ProviderConfig,
    /// The flags that apply.
    pub overrides: Overrides,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_validated() {
        let ok = |s: &str| parse_verdict(s).map(|v| (v.score, v.reasons));
        assert_eq!(ok(r#"{"score": 8, "reasons": "正确"}"#), Ok((8, "正确".into())));
        assert_eq!(
            ok("<think>{\"score\": 1}</think>```json\n{\"score\": 10.0, \"reasons\": \" 很好 \"}\n```"),
            Ok((10, "很好".into()))
        );
        for bad in [
            "八分",
            r#"{"score": 11, "reasons": "x"}"#,
            r#"{"score": 0, "reasons": "x"}"#,
            r#"{"score": 7.5, "reasons": "x"}"#,
            r#"{"score": "8", "reasons": "x"}"#,
            r#"{"score": 8, "reasons": ""}"#,
            r#"{"score": 8"#,
        ] {
            assert!(parse_verdict(bad).is_err(), "{bad}");
        }
        let long = format!(r#"{{"score": 3, "reasons": "{}"}}"#, "长".repeat(10 * MAX_REASONS));
        let kept = parse_verdict(&long).unwrap().reasons;
        assert_eq!(kept.chars().count(), MAX_REASONS + 1);
        assert!(kept.ends_with('…'));
    }

    #[test]
    fn calibration_counts_pairs_by_score() {
        // Accepted 9, 8, 8; rejected 8, 5, and one never judged.
        let c = calibrate(&[
            (true, Some(9)),
            (true, Some(8)),
            (true, Some(8)),
            (false, Some(8)),
            (false, Some(5)),
            (false, None),
        ]);
        assert_eq!((c.accepted.count, c.rejected.count, c.unscored), (3, 2, 1));
        assert_eq!(c.accepted.mean, Some(25.0 / 3.0));
        assert_eq!(c.rejected.mean, Some(6.5));
        // Of the 6 pairs the accepted one wins 4, ties 2 (8 against 8), loses none.
        assert_eq!(c.auc, Some((4.0 + 2.0 * 0.5) / 6.0));
        assert_eq!(c.by_score[7], (2, 1));
        assert_eq!(calibrate(&[(true, Some(9))]).auc, None);
    }
}
