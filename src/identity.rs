//! How questions and drafts are named: question ids, hashes of a question's span, draft keys.
//! Gaps, prompts, the drafts store and the merge engine all name things through here, so that
//! a name made by one stage is the name another looks up.

use sha2::{Digest, Sha256};

use crate::chapter::{Chapter, Gap, GapKind, Question};

/// The question a draft was made for, as the merge engine looks it up in a chapter.
#[derive(Debug, Clone, Copy)]
pub struct QuestionRef<'a> {
    /// The question's anchor (or a missing entry's).
    pub anchor: &'a str,
    /// The heading text (or table-of-contents text of a `missing` entry).
    pub text: &'a str,
    /// Why it counted as missing when drafted.
    pub kind: GapKind,
    /// The level of the heading the answer sits under.
    pub level: u8,
    /// [`span_hash`] when drafted.
    pub span_hash: &'a str,
    /// A new version of an answered question: it replaces the answer.
    pub rewrite: bool,
}

/// A question id: the chapter's stable name (its path below the content root), `#`, the anchor.
pub fn question_id(chapter_name: &str, anchor: &str) -> String {
    format!("{chapter_name}#{anchor}")
}

/// The first `len` hex digits of the SHA-256 of `parts`, each length-prefixed so that
/// different splits never collide.
pub fn short_hash(parts: &[&[u8]], len: usize) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()
        .iter()
        .flat_map(|b| [b >> 4, b & 15])
        .take(len)
        .map(|n| char::from_digit(n.into(), 16).unwrap_or('0'))
        .collect()
}

/// A hash of what a gap looks like in the chapter now: the question's heading and answer
/// span, or a missing entry's table-of-contents text and anchor. Edits elsewhere in the
/// chapter leave it unchanged.
pub fn span_hash(chapter: &Chapter, gap: &Gap) -> String {
    match gap.question {
        Some(q) => question_hash(chapter, q),
        None => missing_hash(gap.text, gap.anchor),
    }
}

/// [`span_hash`] of a question, whether or not it is a gap.
pub fn question_hash(chapter: &Chapter, q: &Question) -> String {
    let h = chapter.heading(q);
    short_hash(
        &[chapter.text()[h.range.clone()].as_bytes(), chapter.answer(q).as_bytes()],
        16,
    )
}

/// [`span_hash`] of a table-of-contents entry with no section.
pub fn missing_hash(text: &str, anchor: &str) -> String {
    short_hash(&[b"missing", text.as_bytes(), anchor.as_bytes()], 16)
}

/// The key in a draft's file name: a hash of its question, candidate number, model and body,
/// so that saving the same draft twice names one file, while two models that give the very
/// same text stay two candidates.
pub fn draft_key(question_id: &str, candidate: u32, model: &str, body: &str) -> String {
    short_hash(
        &[
            question_id.as_bytes(),
            &candidate.to_le_bytes(),
            model.as_bytes(),
            body.as_bytes(),
        ],
        8,
    )
}

/// A hash of an answer as the ledger records it (the caller normalises it first).
pub fn answer_hash(answer: &str) -> String {
    short_hash(&[answer.as_bytes()], 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_separate_their_parts() {
        assert_eq!(short_hash(&[b"ab", b"c"], 16), short_hash(&[b"ab", b"c"], 16));
        assert_ne!(short_hash(&[b"ab", b"c"], 16), short_hash(&[b"a", b"bc"], 16));
        assert_eq!(short_hash(&[b"x"], 8).len(), 8);
    }
}
