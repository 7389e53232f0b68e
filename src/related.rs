//! The book's answered questions as a search index, so that a draft sees what other chapters
//! already answer: one document per answered question (its text, its answer, its chapter's
//! title), ranked by BM25 (tantivy). Chinese is cut into overlapping character pairs and Latin
//! text into lower-case words, so one index serves both and a mixed question (`DiT 的结构`)
//! matches either way.
//!
//! The index lives in the drafts folder's cache and is never a source of truth: each chapter is
//! indexed again only when its text's hash changes, and anything amiss (another version, a
//! damaged or busy folder) rebuilds it, or builds it in memory for this run.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{Index as Tantivy, IndexReader, ReloadPolicy, TantivyDocument, Term};

use crate::chapter::Chapter;
use crate::text::is_cjk;

/// Bumped when what is indexed or how it is cut changes: an older index is rebuilt.
const VERSION: u32 = 1;
/// The tokenizer's name in the index.
const TOKENIZER: &str = "aigcq-mixed";
/// The file that records which text of each chapter the index holds.
const MANIFEST: &str = "manifest.json";
/// A manifest larger than this is not one aigcq wrote (a book of 100,000 chapters is 10 MB).
const MANIFEST_BYTES: u64 = 64 << 20;
/// Query tokens past this many say nothing more about a question.
const MAX_QUERY_TOKENS: usize = 256;
/// Memory the writer may use before it flushes (tantivy's floor is 15 MB per thread).
const WRITER_BYTES: usize = 50 << 20;

/// An answered question found for another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Its chapter's path below the content folder.
    pub chapter: String,
    /// Its heading's anchor.
    pub anchor: String,
    /// Its text.
    pub question: String,
    /// Its answer, whole.
    pub answer: String,
    /// BM25 score: higher is closer; comparable only within one search.
    pub score: f32,
}

/// The index of a book's answered questions.
pub struct Index {
    reader: IndexReader,
    fields: Fields,
    /// Chapters indexed again by [`Index::update`] (the rest were up to date).
    pub reindexed: usize,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("reindexed", &self.reindexed).finish()
    }
}

#[derive(Clone, Copy)]
struct Fields {
    chapter: Field,
    anchor: Field,
    question: Field,
    answer: Field,
    title: Field,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    /// Each chapter's name and the hash of the text indexed.
    chapters: BTreeMap<String, String>,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        if stored { o.set_stored() } else { o }
    };
    let fields = Fields {
        chapter: b.add_text_field("chapter", STRING | STORED),
        anchor: b.add_text_field("anchor", STORED),
        question: b.add_text_field("question", text(true)),
        answer: b.add_text_field("answer", text(true)),
        title: b.add_text_field("title", text(false)),
    };
    (b.build(), fields)
}

impl Index {
    /// The index of `chapters` (each chapter's path below the content folder and its parse),
    /// kept in `dir` and brought up to date: chapters whose text changed are indexed again,
    /// chapters that are gone leave it. When `dir` cannot serve (unwritable, locked by another
    /// run, damaged), the index is built in memory instead.
    pub fn update(dir: &Path, chapters: &[(&str, &Chapter)]) -> Result<Index> {
        // The folder is the drafts folder's, so untrusted: a damaged index that makes tantivy
        // panic costs the cache, not the run.
        let on_disk = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Self::on_disk(dir, chapters)))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("tantivy failed on it")));
        match on_disk {
            Ok(index) => Ok(index),
            Err(e) => {
                tracing::warn!(
                    "related answers: the index in {} cannot be used ({e:#}); building it in memory",
                    dir.display()
                );
                Self::in_memory(chapters)
            }
        }
    }

    /// The index of `chapters`, in memory only.
    pub fn in_memory(chapters: &[(&str, &Chapter)]) -> Result<Index> {
        let (schema, fields) = schema();
        let index = Tantivy::create_in_ram(schema);
        let mut manifest = Manifest::default();
        let reindexed = Self::write(&index, fields, &mut manifest, chapters)?;
        Self::open(index, fields, reindexed)
    }

    fn on_disk(dir: &Path, chapters: &[(&str, &Chapter)]) -> Result<Index> {
        let (schema, fields) = schema();
        let manifest_path = dir.join(MANIFEST);
        let mut manifest: Manifest = crate::atomic::read_limited(&manifest_path, MANIFEST_BYTES)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|m: &Manifest| m.version == VERSION)
            .unwrap_or_default();
        let opened = match manifest.version {
            VERSION => Tantivy::open_in_dir(dir).ok().filter(|i| i.schema() == schema),
            _ => None,
        };
        let index = match opened {
            Some(index) => index,
            None => {
                // Whatever is there is another version's or damaged: start again.
                if dir.exists() {
                    std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
                }
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                manifest = Manifest {
                    version: VERSION,
                    ..Manifest::default()
                };
                Tantivy::create_in_dir(dir, schema)?
            }
        };
        let reindexed = Self::write(&index, fields, &mut manifest, chapters)?;
        if reindexed > 0 || manifest.chapters.len() != chapters.len() {
            crate::atomic::write(&manifest_path, &serde_json::to_vec(&manifest)?)
                .with_context(|| format!("cannot write {}", manifest_path.display()))?;
        }
        Self::open(index, fields, reindexed)
    }

    /// Brings `index` from what `manifest` says it holds to `chapters`; how many chapters were
    /// indexed again.
    fn write(index: &Tantivy, f: Fields, manifest: &mut Manifest, chapters: &[(&str, &Chapter)]) -> Result<usize> {
        index.tokenizers().register(TOKENIZER, Mixed);
        let hashes: Vec<String> = chapters
            .iter()
            .map(|(_, c)| crate::identity::short_hash(&[c.text().as_bytes()], 16))
            .collect();
        let names: HashSet<&str> = chapters.iter().map(|(n, _)| *n).collect();
        let gone: Vec<String> = manifest
            .chapters
            .keys()
            .filter(|n| !names.contains(&n[..]))
            .cloned()
            .collect();
        let changed: Vec<usize> = (0..chapters.len())
            .filter(|&i| manifest.chapters.get(chapters[i].0) != Some(&hashes[i]))
            .collect();
        if gone.is_empty() && changed.is_empty() {
            return Ok(0);
        }
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, WRITER_BYTES)?;
        for name in &gone {
            writer.delete_term(Term::from_field_text(f.chapter, name));
            manifest.chapters.remove(name);
        }
        for &i in &changed {
            let (name, chapter) = chapters[i];
            writer.delete_term(Term::from_field_text(f.chapter, name));
            let title = chapter.title().unwrap_or(name);
            for q in chapter.questions.iter().filter(|q| !q.group && q.gap.is_none()) {
                let heading = chapter.heading(q);
                let mut doc = TantivyDocument::new();
                doc.add_text(f.chapter, name);
                doc.add_text(f.anchor, heading.anchor());
                doc.add_text(f.question, &heading.text);
                doc.add_text(f.answer, chapter.answer_body(q).trim());
                doc.add_text(f.title, title);
                writer.add_document(doc)?;
            }
            manifest.chapters.insert(name.to_owned(), hashes[i].clone());
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        Ok(changed.len())
    }

    /// The reader of `index`, which [`Index::write`] has given the tokenizer.
    fn open(index: Tantivy, fields: Fields, reindexed: usize) -> Result<Index> {
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Index {
            reader,
            fields,
            reindexed,
        })
    }

    /// How many answered questions the index holds.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// True when the book has no answered question.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answered questions closest to `question`, best first, at most `limit`: its words
    /// count three times in a question, once in an answer and half in a chapter title.
    pub fn search(&self, question: &str, limit: usize) -> Result<Vec<Hit>> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.search_now(question, limit)))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("tantivy failed on the index")))
    }

    fn search_now(&self, question: &str, limit: usize) -> Result<Vec<Hit>> {
        let f = self.fields;
        let mut tokens = Vec::new();
        let mut stream = Mixed.token_stream(question);
        while stream.advance() && tokens.len() < MAX_QUERY_TOKENS {
            tokens.push(stream.token().text.clone());
        }
        tokens.sort_unstable();
        tokens.dedup();
        if tokens.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in &tokens {
            for (field, boost) in [(f.question, 3.0), (f.answer, 1.0), (f.title, 0.5)] {
                let term = TermQuery::new(Term::from_field_text(field, t), IndexRecordOption::WithFreqs);
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(term), boost))));
            }
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&BooleanQuery::new(clauses), &TopDocs::with_limit(limit))?;
        let text =
            |doc: &TantivyDocument, field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("").to_owned();
        top.into_iter()
            .map(|(score, at)| {
                let doc: TantivyDocument = searcher.doc(at)?;
                Ok(Hit {
                    chapter: text(&doc, f.chapter),
                    anchor: text(&doc, f.anchor),
                    question: text(&doc, f.question),
                    answer: text(&doc, f.answer),
                    score,
                })
            })
            .collect()
    }
}

/// Cuts text into lower-case Latin words and digit runs, and CJK runs into overlapping pairs
/// of characters (a lone character stays whole): Chinese needs no dictionary this way, and a
/// two-character word (`扩散`, `模型`) is always one of the pairs.
#[derive(Clone, Copy)]
pub struct Mixed;

/// The tokens of one text.
pub struct Tokens {
    tokens: Vec<Token>,
    at: Option<usize>,
}

impl Tokenizer for Mixed {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        let mut tokens = Vec::new();
        let mut push = |from: usize, to: usize, text: String| {
            let position = tokens.len();
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position,
                text,
                position_length: 1,
            });
        };
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let end = |i: usize| chars.get(i).map_or(text.len(), |&(b, _)| b);
        let mut i = 0;
        while i < chars.len() {
            let (from, c) = chars[i];
            if is_cjk(c) {
                let mut j = i;
                while j < chars.len() && is_cjk(chars[j].1) {
                    j += 1;
                }
                if j - i == 1 {
                    push(from, end(j), c.to_string());
                }
                for k in i..j.saturating_sub(1) {
                    push(chars[k].0, end(k + 2), text[chars[k].0..end(k + 2)].to_owned());
                }
                i = j;
            } else if c.is_alphanumeric() {
                let mut j = i;
                while j < chars.len() && chars[j].1.is_alphanumeric() && !is_cjk(chars[j].1) {
                    j += 1;
                }
                let word = &text[from..end(j)];
                // A word longer than this is a hash or a data blob, not something to look up.
                if word.len() <= 40 {
                    push(from, end(j), word.to_lowercase());
                }
                i = j;
            } else {
                i += 1;
            }
        }
        Tokens { tokens, at: None }
    }
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        let next = self.at.map_or(0, |a| a + 1);
        self.at = Some(next);
        next < self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.at.unwrap_or(0)]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.at.unwrap_or(0)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        let mut s = Mixed.token_stream(text);
        let mut out = Vec::new();
        while s.advance() {
            out.push(s.token().text.clone());
        }
        out
    }

    #[test]
    fn chinese_is_cut_into_pairs_and_latin_into_words() {
        assert_eq!(tokens("DiT 的结构？LoRA-v2"), ["dit", "的结", "结构", "lora", "v2"]);
        assert_eq!(tokens("图 A"), ["图", "a"]);
        assert!(tokens("，。!?").is_empty());
    }

    #[test]
    fn the_closest_answer_comes_first_and_the_index_follows_the_chapters() {
        let rules = crate::chapter::Rules::default();
        let a = Chapter::parse(
            "# 扩散模型\n\n## 1. 什么是扩散模型？\n\n扩散模型通过逐步去噪生成图像。\n\n## 2. 什么是 LoRA？\n\nLoRA 用低秩矩阵微调大模型。\n",
            &rules,
        );
        let b = Chapter::parse("# 视频\n\n## 1. 视频生成如何保持一致？\n\n时序注意力。\n", &rules);
        let dir = tempfile::tempdir().unwrap();
        let index = Index::update(dir.path(), &[("a.md", &a), ("b.md", &b)]).unwrap();
        assert_eq!((index.len(), index.reindexed), (3, 2));
        let hits = index.search("扩散模型的原理是什么", 2).unwrap();
        assert_eq!(hits[0].anchor, "1-什么是扩散模型");
        assert_eq!(hits[0].answer, "扩散模型通过逐步去噪生成图像。");
        assert_eq!(index.search("lora 微调", 1).unwrap()[0].chapter, "a.md");

        // Unchanged: nothing indexed again. A changed chapter is; a removed one leaves.
        drop(index);
        assert_eq!(
            Index::update(dir.path(), &[("a.md", &a), ("b.md", &b)])
                .unwrap()
                .reindexed,
            0
        );
        let b2 = Chapter::parse(
            "# 视频\n\n## 1. 视频生成如何保持一致？\n\n时序注意力与 LoRA。\n",
            &rules,
        );
        let index = Index::update(dir.path(), &[("b.md", &b2)]).unwrap();
        assert_eq!((index.len(), index.reindexed), (1, 1));
        assert_eq!(index.search("lora", 5).unwrap().len(), 1);
    }
}
