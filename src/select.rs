//! Narrowing questions by the `QUERY...` arguments of `draft` and `review`. Pure.
//!
//! A query is read as the first of these that matches anything: a question id
//! (`chapter.md#anchor`, `chapter.md#7`, `#anchor`), a number (`7`, when only one chapter
//! has a question 7 in scope), a chapter path or a folder above it, an anchor, or a
//! case-insensitive substring of the question text.

/// What a query is matched against.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The chapter's path below the content root.
    pub chapter: &'a str,
    /// The question's anchor.
    pub anchor: &'a str,
    /// Its number in the chapter.
    pub index: usize,
    /// Its text.
    pub text: &'a str,
}

/// Why a query selects nothing useful.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("nothing matches {0:?}")]
    /// The query selects nothing.
    NoMatch(String),
    #[error("{query:?} is question {query} in {chapters} chapters; write CHAPTER#{query}")]
    /// A question number that several chapters have: say which chapter.
    Ambiguous {
        /// The query.
        query: String,
        /// How many chapters have that question number.
        chapters: usize,
    },
}

fn in_chapter(item: &Item, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    item.chapter == path
        || item
            .chapter
            .strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The items `query` selects: the first of these ways of reading it that matches anything.
fn hits(items: &[Item], query: &str) -> Vec<usize> {
    let all = |f: &dyn Fn(&Item) -> bool| -> Vec<usize> { (0..items.len()).filter(|&i| f(&items[i])).collect() };
    if let Some((chapter, frag)) = query.rsplit_once('#') {
        return all(&|i| {
            (i.anchor == frag || frag.parse::<usize>().is_ok_and(|n| n == i.index))
                && (chapter.is_empty() || in_chapter(i, chapter))
        });
    }
    if let Ok(n) = query.parse::<usize>() {
        return all(&|i| i.index == n);
    }
    let lower = query.to_lowercase();
    let tiers: [&dyn Fn(&Item) -> bool; 3] = [&|i| in_chapter(i, query), &|i| i.anchor == query, &|i| {
        i.text.to_lowercase().contains(&lower)
    }];
    tiers
        .iter()
        .map(|t| all(*t))
        .find(|h| !h.is_empty())
        .unwrap_or_default()
}

/// Which items the queries select (all of them when there are none). Every query must match
/// something, so a typo is an error rather than a silent no-op; a bare number must name a
/// question in exactly one chapter.
pub fn select(items: &[Item], queries: &[String]) -> Result<Vec<bool>, SelectError> {
    let mut picked = vec![queries.is_empty(); items.len()];
    for q in queries {
        let hits = hits(items, q);
        if hits.is_empty() {
            return Err(SelectError::NoMatch(q.clone()));
        }
        if q.parse::<usize>().is_ok() {
            let mut chapters: Vec<&str> = hits.iter().map(|&i| items[i].chapter).collect();
            chapters.dedup();
            if chapters.len() > 1 {
                return Err(SelectError::Ambiguous {
                    query: q.clone(),
                    chapters: chapters.len(),
                });
            }
        }
        hits.into_iter().for_each(|i| picked[i] = true);
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEMS: [Item<'static>; 4] = [
        Item {
            chapter: "a/第一章.md",
            anchor: "7-dit",
            index: 7,
            text: "7、介绍一下 DiT",
        },
        Item {
            chapter: "a/第一章.md",
            anchor: "8-vae",
            index: 8,
            text: "8、什么是 VAE？",
        },
        Item {
            chapter: "b.md",
            anchor: "q1",
            index: 1,
            text: "What is LoRA?",
        },
        Item {
            chapter: "b.md",
            anchor: "q8",
            index: 8,
            text: "Why DiT scales",
        },
    ];

    fn pick(queries: &[&str]) -> Result<Vec<usize>, SelectError> {
        let q: Vec<String> = queries.iter().map(|s| s.to_string()).collect();
        select(&ITEMS, &q).map(|v| v.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| i).collect())
    }

    #[test]
    fn by_path_folder_id_index_anchor_and_text() {
        assert_eq!(pick(&[]).unwrap(), [0, 1, 2, 3]);
        assert_eq!(pick(&["a/第一章.md"]).unwrap(), [0, 1]);
        assert_eq!(pick(&["a"]).unwrap(), [0, 1]);
        assert_eq!(pick(&["a/第一章.md#8-vae"]).unwrap(), [1]);
        assert_eq!(pick(&["a/第一章.md#7"]).unwrap(), [0]);
        assert_eq!(pick(&["#q1"]).unwrap(), [2]);
        assert_eq!(pick(&["q8"]).unwrap(), [3]);
        assert_eq!(pick(&["dit"]).unwrap(), [0, 3]);
        assert_eq!(pick(&["lora", "b.md#8"]).unwrap(), [2, 3]);
    }

    #[test]
    fn a_bare_number_needs_one_chapter_in_scope() {
        assert_eq!(pick(&["7"]).unwrap(), [0], "only one chapter has a 7");
        assert_eq!(
            pick(&["8"]),
            Err(SelectError::Ambiguous {
                query: "8".into(),
                chapters: 2
            })
        );
        let one: Vec<_> = ITEMS[..2].to_vec();
        assert_eq!(select(&one, &["8".into()]).unwrap(), [false, true]);
    }

    #[test]
    fn a_query_matching_nothing_is_an_error() {
        assert_eq!(pick(&["dit", "nope"]), Err(SelectError::NoMatch("nope".into())));
    }
}
