//! `aigcq eval`: the table per model and template, and the Markdown report.

use std::io::{self, Write};
use std::path::Path;

use console::style;

use super::safe;
use aigcq::eval::Outcome;

/// Before each model and template drafts.
pub fn start(n: usize, model: &str, template: &str) {
    eprintln!(
        "eval: {} held out, drafted by {} with template {}",
        super::plural(n, "question"),
        safe(model),
        safe(template)
    );
}

/// Some drafts are in batches still running: no table yet.
pub fn batches_waiting(pairs: usize, run: &str) {
    eprintln!(
        "eval: the batches of {} are running at the provider; collect and grade them with: aigcq eval --resume {run} --batch",
        super::plural(pairs, "model and template pair")
    );
}

fn score(o: &Outcome) -> String {
    o.mean_score.map_or_else(|| "–".to_owned(), |m| format!("{m:.1}"))
}

/// What the drafting cost, by `[prices]`.
fn cost(o: &Outcome) -> String {
    match (o.cost, &o.currency) {
        (Some(c), Some(cur)) => format!("{c:.4} {cur}"),
        _ => "–".to_owned(),
    }
}

/// `--pairwise`: wins/ties/losses against the book's answer.
fn duels(o: &Outcome) -> String {
    o.pairwise
        .map_or_else(|| "–".to_owned(), |[w, t, l]| format!("{w}/{t}/{l}"))
}

/// One row per model and template, best mean score first.
pub fn table(out: &mut impl Write, outcomes: &[Outcome]) -> io::Result<()> {
    let mut rows: Vec<&Outcome> = outcomes.iter().collect();
    rows.sort_by(|a, b| {
        b.mean_score
            .partial_cmp(&a.mean_score)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let w = rows
        .iter()
        .map(|o| o.model.len() + o.template.len() + 3)
        .max()
        .unwrap_or(0)
        .max(17);
    writeln!(
        out,
        "{}",
        style(format!(
            "{:<w$}  QUESTIONS  JUDGED  MEAN  W/T/L VS BOOK  WARN/DRAFT  TOKENS IN/OUT        COST  SECONDS",
            "MODEL / TEMPLATE"
        ))
        .bold()
    )?;
    for o in rows {
        writeln!(
            out,
            "{:<w$}  {:>9}  {:>6}  {:>4}  {:>13}  {:>10.2}  {:>13}  {:>10}  {:>7.1}",
            format!("{} / {}", safe(&o.model), safe(&o.template)),
            o.questions,
            o.judged,
            score(o),
            duels(o),
            o.warnings_per_draft,
            format!("{}/{}", o.prompt_tokens, o.completion_tokens),
            cost(o),
            o.seconds
        )?;
    }
    Ok(())
}

/// A report to paste into an issue: the table, then every question's scores.
pub fn markdown(outcomes: &[Outcome], questions: usize, judge: &str) -> String {
    let mut s = format!(
        "# aigcq eval\n\n{questions} answered questions held out and drafted afresh; each draft scored 1–10 by `{judge}` against the book's own answer.\n\n| model | template | questions | judged | mean score | wins/ties/losses against the book | warnings per draft | tokens in / out | cost | seconds |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for o in outcomes {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | {} / {} | {} | {:.1} |\n",
            o.model,
            o.template,
            o.questions,
            o.judged,
            score(o),
            duels(o),
            o.warnings_per_draft,
            o.prompt_tokens,
            o.completion_tokens,
            cost(o),
            o.seconds
        ));
    }
    for o in outcomes {
        s.push_str(&format!(
            "\n## {} / {}\n\n| question | score | warnings | reasons |\n| --- | ---: | --- | --- |\n",
            o.model, o.template
        ));
        for d in &o.drafts {
            let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&d.question),
                d.score.map_or("–".to_owned(), |s| s.to_string()),
                d.warnings.join(" "),
                cell(&d.reasons)
            ));
        }
    }
    s
}

/// Where the run's drafts, verdicts and report are.
pub fn kept(dir: &Path, cwd: &Path) {
    eprintln!(
        "drafts, verdicts (results.json) and report.md are in {}",
        aigcq::scan::display_path(dir, cwd)
    );
}
