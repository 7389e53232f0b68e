//! Finding chapter files and reading them as text, with errors that name the file.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// Why a chapter could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {source}")]
    /// The file cannot be read.
    Io {
        /// The file.
        path: String,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    #[error("{path}: not valid UTF-8 at byte {offset}")]
    /// The file is not UTF-8; the first bad byte is at `offset`.
    Utf8 {
        /// The file.
        path: String,
        /// Byte offset of the first bad byte.
        offset: usize,
    },
    #[error("{path}: binary file (NUL byte at {offset})")]
    /// The file holds a NUL byte at `offset`: not text.
    Binary {
        /// The file.
        path: String,
        /// Byte offset of the NUL.
        offset: usize,
    },
}

/// True for the file names aigcq treats as chapters.
pub fn is_chapter(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"))
}

/// The chapter files named by `inputs`: files as given, folders searched recursively for
/// `*.md` / `*.markdown` in sorted order. A file reached twice (a symbolic link to a chapter
/// beside the chapter itself) is listed once, by its own name rather than the link's. Inputs
/// that do not exist are returned as errors.
pub fn chapter_paths(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<ReadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    // (device, inode) → index in `files`, and whether that entry came through a link.
    let mut seen: HashMap<(u64, u64), (usize, bool)> = HashMap::new();
    for input in inputs {
        if input.is_dir() {
            let walk = walkdir::WalkDir::new(input).follow_links(true).sort_by_file_name();
            for entry in walk {
                match entry {
                    Ok(e) if e.file_type().is_file() && is_chapter(e.path()) => {
                        let link = e.path_is_symlink();
                        let Some(id) = e.metadata().ok().map(|m| (m.dev(), m.ino())) else {
                            files.push(e.into_path());
                            continue;
                        };
                        match seen.get(&id).copied() {
                            Some((i, true)) if !link => {
                                files[i] = e.into_path();
                                seen.insert(id, (i, false));
                            }
                            Some(_) => {}
                            None => {
                                seen.insert(id, (files.len(), link));
                                files.push(e.into_path());
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(ReadError::Io {
                        path: e.path().unwrap_or(input).display().to_string(),
                        source: e.into(),
                    }),
                }
            }
        } else if input.exists() {
            files.push(input.clone());
        } else {
            errors.push(ReadError::Io {
                path: input.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
            });
        }
    }
    (files, errors)
}

/// Reads a chapter as UTF-8 text.
pub fn read_chapter(path: &Path) -> Result<String, ReadError> {
    let name = || path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io { path: name(), source })?;
    if let Some(offset) = memchr::memchr(0, &bytes) {
        return Err(ReadError::Binary { path: name(), offset });
    }
    // simdutf8 validates several times faster than std on this text (mostly CJK); the exact
    // error offset, rare, comes from std.
    if simdutf8::basic::from_utf8(&bytes).is_ok() {
        // SAFETY: just validated as UTF-8.
        return Ok(unsafe { String::from_utf8_unchecked(bytes) });
    }
    String::from_utf8(bytes).map_err(|e| ReadError::Utf8 {
        path: name(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Reads and processes every file on all cores, keeping the input order. Each file is read,
/// handed to `f` and dropped, so only one file per core is in memory at a time.
pub fn map_chapters<T, F>(files: &[PathBuf], f: F) -> Vec<Result<T, ReadError>>
where
    T: Send,
    F: Fn(&Path, &str) -> T + Sync,
{
    files
        .par_iter()
        .map(|path| read_chapter(path).map(|text| f(path, &text)))
        .collect()
}

/// How a path is shown: relative to the current directory when it is below it.
pub fn display_path(path: &Path, cwd: &Path) -> String {
    path.strip_prefix(cwd).unwrap_or(path).display().to_string()
}

/// A chapter's stable name: its path relative to the content root (or as given when outside
/// it), with `/` separators. Question ids are made from it. Lexical, so it costs no system
/// call per file.
pub fn chapter_name(path: &Path, content_root: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (path_a, root_a) = (absolute(path), absolute(content_root));
    let rel = path_a
        .strip_prefix(&root_a)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf());
    rel.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_name_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.md");
        std::fs::write(&bad, b"# ok\n\xff\xfe").unwrap();
        let e = read_chapter(&bad).unwrap_err().to_string();
        assert!(e.ends_with("bad.md: not valid UTF-8 at byte 5"), "{e}");
        let bin = dir.path().join("bin.md");
        std::fs::write(&bin, b"ab\0c").unwrap();
        assert!(
            read_chapter(&bin)
                .unwrap_err()
                .to_string()
                .contains("binary file (NUL byte at 2)")
        );
    }

    #[test]
    fn folders_are_walked_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.md", "a/z.markdown", "a/y.txt", "c.MD"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let (files, errors) = chapter_paths(&[dir.path().to_path_buf(), dir.path().join("nope.md")]);
        let names: Vec<_> = files.iter().map(|f| chapter_name(f, dir.path())).collect();
        assert_eq!(names, ["a/z.markdown", "b.md", "c.MD"]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("nope.md"));
    }
}
