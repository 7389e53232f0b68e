//! `cargo bench --bench related`: the index of the book's answered questions (issue 25).
//!
//! 1. Building it from nothing over the 32 chapters of `../shared/corpus` and over a
//!    200-chapter book made of them (each copy a chapter of its own name), on disk as `draft`
//!    keeps it, against the floor: parsing the same chapters, which every run does anyway.
//!    Then a run with nothing changed (hashes only) and one with one chapter changed.
//! 2. One query: every answered question's text of the 200-chapter book searched (top 12),
//!    median and 95th percentile; the same with the small `bm25` crate's in-memory engine and
//!    the same tokenizer, for the choice of tantivy.
//! 3. What `related` adds to drafting one question: the time to build its prompt with and
//!    without related answers, and the prompt tokens they add (estimated), priced at
//!    DeepSeek's $0.28 per million input tokens (cache miss).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use aigcq::chapter::{Chapter, QuestionConfig, Rules};
use aigcq::prompt::{self, ChapterFacts, RunContext, Templates};
use aigcq::related::Index;

const BOOK: usize = 200;
const PRICE_PER_MTOK: f64 = 0.28;

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap()
}

fn pct(mut v: Vec<Duration>, p: usize) -> Duration {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = root.join("../shared/corpus/aigc-interview-book");
    if !source.is_dir() {
        eprintln!("skipped: no corpus at {}", source.display());
        return;
    }
    let files = common::chapters_below(&source);
    let texts: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let rules = Rules::new(&QuestionConfig::default()).unwrap();
    let names: Vec<String> = (0..BOOK).map(|i| format!("part{}/chapter{i:03}.md", i / 20)).collect();
    let book_texts: Vec<&str> = (0..BOOK).map(|i| texts[i % texts.len()].as_str()).collect();

    println!("index of answered questions (tantivy, on disk):");
    for (label, n) in [("../shared/corpus", texts.len()), ("200-chapter book", BOOK)] {
        let chosen: Vec<&str> = if n == BOOK {
            book_texts.clone()
        } else {
            texts.iter().map(String::as_str).collect()
        };
        let mb = chosen.iter().map(|t| t.len()).sum::<usize>() as f64 / 1e6;
        let parse = best(3, || {
            for t in &chosen {
                std::hint::black_box(Chapter::parse(t, &rules));
            }
        });
        let chapters: Vec<Chapter> = chosen.iter().map(|t| Chapter::parse(t, &rules)).collect();
        let book: Vec<(&str, &Chapter)> = names[..n].iter().map(String::as_str).zip(&chapters).collect();
        let mut docs = 0;
        let build = best(3, || {
            let dir = tempfile::tempdir().unwrap();
            docs = Index::update(dir.path(), &book).unwrap().len();
        });
        let dir = tempfile::tempdir().unwrap();
        Index::update(dir.path(), &book).unwrap();
        let unchanged = best(5, || {
            assert_eq!(Index::update(dir.path(), &book).unwrap().reindexed, 0);
        });
        let edited = Chapter::parse("# 改过的章节\n\n## 1. 什么是扩散模型？\n\n逐步去噪。\n", &rules);
        let mut changed = book.clone();
        let one = best(5, || {
            changed[0].1 = if changed[0].1.text() == edited.text() {
                &chapters[0]
            } else {
                &edited
            };
            assert_eq!(Index::update(dir.path(), &changed).unwrap().reindexed, 1);
        });
        println!(
            "  {label}: {n} chapters, {mb:.1} MB, {docs} answered questions\n    \
             build from nothing {:>8.1} ms   parse alone {:>7.1} ms   ratio {:.2}x the parse\n    \
             nothing changed    {:>8.1} ms   one chapter changed {:>7.1} ms",
            ms(build),
            ms(parse),
            build.as_secs_f64() / parse.as_secs_f64(),
            ms(unchanged),
            ms(one),
        );
    }

    // Queries over the 200-chapter book: each answered question's text.
    let chapters: Vec<Chapter> = book_texts.iter().map(|t| Chapter::parse(t, &rules)).collect();
    let book: Vec<(&str, &Chapter)> = names.iter().map(String::as_str).zip(&chapters).collect();
    let index = Index::in_memory(&book).unwrap();
    let questions: Vec<String> = chapters[..texts.len()]
        .iter()
        .flat_map(|c| {
            c.questions
                .iter()
                .filter(|q| !q.group && q.gap.is_none())
                .map(|q| c.heading(q).text.clone())
        })
        .collect();
    let times: Vec<Duration> = questions
        .iter()
        .map(|q| {
            let start = Instant::now();
            std::hint::black_box(index.search(q, 12).unwrap());
            start.elapsed()
        })
        .collect();
    println!(
        "one query over the 200-chapter book ({} answered questions), {} queries:\n  \
         tantivy: median {:.2} ms, p95 {:.2} ms",
        index.len(),
        questions.len(),
        ms(pct(times.clone(), 50)),
        ms(pct(times, 95)),
    );

    // The same documents and tokenizer in the bm25 crate's engine.
    let documents: Vec<bm25::Document<u32>> = chapters
        .iter()
        .flat_map(|c| {
            let title = c.title().unwrap_or("").to_owned();
            c.questions
                .iter()
                .filter(|q| !q.group && q.gap.is_none())
                .map(move |q| format!("{}\n{}\n{title}", c.heading(q).text, c.answer_body(q)))
        })
        .enumerate()
        .map(|(i, text)| bm25::Document::new(i as u32, text))
        .collect();
    let start = Instant::now();
    let engine = bm25::SearchEngineBuilder::<u32, u32, Pairs>::with_tokenizer_and_documents(Pairs, documents).build();
    let bm25_build = start.elapsed();
    let sample: Vec<&String> = questions.iter().step_by((questions.len() / 50).max(1)).collect();
    let bm25_times: Vec<Duration> = sample
        .iter()
        .map(|q| {
            let start = Instant::now();
            std::hint::black_box(engine.search(q, 12));
            start.elapsed()
        })
        .collect();
    let tantivy_build = best(1, || {
        std::hint::black_box(Index::in_memory(&book).unwrap());
    });
    println!(
        "  bm25 2.3 (in memory, same tokenizer): build {:.0} ms (tantivy in memory {:.0} ms), \
         query median {:.1} ms, p95 {:.1} ms over {} queries",
        ms(bm25_build),
        ms(tantivy_build),
        ms(pct(bm25_times.clone(), 50)),
        ms(pct(bm25_times, 95)),
        sample.len(),
    );

    // What related answers add to one question's prompt.
    let templates = Templates::load(&root.join("prompts"), "default").unwrap();
    let run = |related: Option<std::sync::Arc<Index>>| RunContext {
        style: None,
        today: "2026-12-05".into(),
        example_chars: 4000,
        prompt_cache_key: false,
        glossary: None,
        related_chars: if related.is_some() { 3000 } else { 0 },
        related,
    };
    let with = run(Some(std::sync::Arc::new(index)));
    let without = run(None);
    let (mut added_tokens, mut t_with, mut t_without, mut n) = (0u64, Duration::ZERO, Duration::ZERO, 0u32);
    for (c, name) in chapters[..texts.len()].iter().zip(&names) {
        let facts = ChapterFacts::new(c, name);
        for q in c.questions.iter().filter(|q| !q.group && q.gap.is_none()).step_by(4) {
            let gap = c.as_gap(q, aigcq::chapter::GapKind::Empty);
            let render = |run: &RunContext| {
                let start = Instant::now();
                let m = templates
                    .render(&prompt::context(&facts, &gap, &rules, run, false, &[]))
                    .unwrap();
                (start.elapsed(), m.user)
            };
            let (a, user_with) = render(&with);
            let (b, user_without) = render(&without);
            t_with += a;
            t_without += b;
            added_tokens +=
                aigcq::llm::tokens::estimate(&user_with).saturating_sub(aigcq::llm::tokens::estimate(&user_without));
            n += 1;
        }
    }
    let tokens = added_tokens as f64 / f64::from(n);
    println!(
        "related answers in one question's prompt ({n} questions, related_chars 3000):\n  \
         prompt built in {:.2} ms with, {:.2} ms without (+{:.2} ms)\n  \
         +{tokens:.0} prompt tokens (estimated) = ${:.5} per question at ${PRICE_PER_MTOK}/M input",
        ms(t_with / n),
        ms(t_without / n),
        ms(t_with.saturating_sub(t_without) / n),
        tokens * PRICE_PER_MTOK / 1e6,
    );
}

/// The index's tokenizer, for the bm25 crate.
#[derive(Default)]
struct Pairs;

impl bm25::Tokenizer for Pairs {
    fn tokenize(&self, text: &str) -> Vec<String> {
        use tantivy::tokenizer::{TokenStream, Tokenizer};
        let mut out = Vec::new();
        let mut s = aigcq::related::Mixed.token_stream(text);
        while s.advance() {
            out.push(s.token().text.clone());
        }
        out
    }
}
