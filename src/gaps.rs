//! Stage 1, `aigcq gaps`: the unanswered questions of each chapter, as records for printing.

use serde::Serialize;

use crate::chapter::{Chapter, GapKind};
use crate::identity;

/// One unanswered question, as `aigcq gaps --json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GapRecord {
    /// The chapter's path as given, or relative to the current directory.
    pub file: String,
    /// Stable id: the chapter's path below the content root, `#`, the anchor.
    pub id: String,
    pub anchor: String,
    /// 1-based number of the question in its chapter.
    pub index: usize,
    pub line: usize,
    /// Heading level 1–6; 0 for a `missing` entry, which has no heading.
    pub level: u8,
    pub kind: GapKind,
    pub question: String,
}

/// The gaps of one chapter and how many questions it has.
#[derive(Debug, Clone, Serialize)]
pub struct ChapterGaps {
    pub file: String,
    /// Questions that want an answer: every question but group headings, plus missing entries.
    pub questions: usize,
    /// Counted before any `--kind` filter narrows `gaps`.
    pub answered: usize,
    pub gaps: Vec<GapRecord>,
}

/// The gaps of a parsed chapter. `file` is how the path is shown, `name` its stable name.
pub fn chapter_gaps(chapter: &Chapter, file: &str, name: &str) -> ChapterGaps {
    let gaps: Vec<GapRecord> = chapter
        .gaps()
        .map(|g| GapRecord {
            file: file.to_owned(),
            id: identity::question_id(name, g.anchor),
            anchor: g.anchor.to_owned(),
            index: g.index,
            line: g.line,
            level: g.level,
            kind: g.kind,
            question: g.text.to_owned(),
        })
        .collect();
    let missing = gaps.iter().filter(|g| g.kind == GapKind::Missing).count();
    let questions = chapter.questions.iter().filter(|q| !q.group).count() + missing;
    ChapterGaps {
        file: file.to_owned(),
        questions,
        answered: questions - gaps.len(),
        gaps,
    }
}
