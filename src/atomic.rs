//! Atomic file replacement and advisory locks: readers, a crash or a Ctrl-C see the old
//! content or the new, never a mix, and two aigcq processes never write one file at once.

use std::fs::{self, File, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Prefix of the temporary files; listings skip names starting with a dot.
pub const TEMP_PREFIX: &str = ".aigcq-";
/// Suffix of the temporary files.
pub const TEMP_SUFFIX: &str = ".tmp";

/// The folder a file is in (`.` for a bare name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A new temporary file in `dir` with the name pattern [`sweep`] knows, locked while it
/// exists, so that a sweep tells a live write from a leftover.
pub fn locked_temp(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)?;
    tmp.as_file().lock()?;
    Ok(tmp)
}

/// A small file aigcq keeps (a cache, a run's settings), read to at most `max` bytes: a
/// larger one is an error, never read whole.
pub fn read_limited(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "{} is larger than {max} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Writes `bytes` to `path` through a temporary file in the same folder: write, fsync, rename,
/// fsync the folder. A symbolic link is written through (the link stays, its target gets the
/// bytes). An existing file keeps its permissions; a read-only one is refused (renaming over
/// it would succeed and silently lose the protection). The temporary file is locked while it
/// exists, so that [`sweep`] can tell a live write from a leftover.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let resolved;
    let path = if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        resolved = fs::canonicalize(path)?;
        resolved.as_path()
    } else {
        path
    };
    let dir = folder(path);
    let existing = match fs::metadata(path) {
        Ok(m) if m.permissions().readonly() => {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "the file is read-only"));
        }
        Ok(m) => Some(m.permissions()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut tmp = locked_temp(dir)?;
    tmp.write_all(bytes)?;
    if let Some(p) = existing {
        tmp.as_file().set_permissions(p)?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename is only durable once the folder is synced; failing to open it (some
    // platforms cannot) does not undo the write.
    if let Ok(d) = File::open(dir) {
        d.sync_all()?;
    }
    Ok(())
}

/// New files written as one group, made durable together: each is written to a temporary
/// file and nothing is synced until [`Group::commit`], which syncs the file system once, puts
/// every file in place and syncs once more. A crash at any point leaves each file in place
/// whole or not at all, never torn. Costs two syncs a group instead of two per file (batch
/// collect writes thousands).
#[derive(Debug, Default)]
pub struct Group {
    staged: Vec<(tempfile::NamedTempFile, PathBuf)>,
}

impl Group {
    /// Stages `bytes` for the new file `path` (its folder must exist). The temporary file
    /// stays locked until the commit, as [`write`]'s does.
    pub fn write(&mut self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut tmp = locked_temp(folder(path))?;
        tmp.write_all(bytes)?;
        self.staged.push((tmp, path.to_path_buf()));
        Ok(())
    }

    /// Makes every staged file durable and puts it in place, in the order staged.
    pub fn commit(&mut self) -> io::Result<()> {
        let Some((first, _)) = self.staged.first() else {
            return Ok(());
        };
        sync_everything(first.as_file(), self.staged.iter().map(|(t, _)| t.as_file()))?;
        let mut dirs: Vec<PathBuf> = Vec::new();
        for (tmp, path) in self.staged.drain(..) {
            tmp.persist(&path).map_err(|e| e.error)?;
            if let Some(d) = path.parent().filter(|d| !dirs.iter().any(|x| x == d)) {
                dirs.push(d.to_path_buf());
            }
        }
        let dirs: Vec<File> = dirs.iter().filter_map(|d| File::open(d).ok()).collect();
        match dirs.first() {
            Some(d) => sync_everything(d, dirs.iter()),
            None => Ok(()),
        }
    }
}

/// Syncs the file system that holds `any` in one call on Linux (`syncfs`); elsewhere each of
/// `files` in turn.
fn sync_everything<'f>(any: &File, files: impl Iterator<Item = &'f File>) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let _ = files;
        rustix::fs::syncfs(any).map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = any;
        files.map(|f| f.sync_all()).collect()
    }
}

/// What [`replace`] found in the file it replaced, when that was not what the caller expected:
/// another program saved it since the caller read it. The new bytes are in place; these are
/// the saved ones, which the caller keeps and merges again.
#[derive(Debug)]
pub struct Raced {
    /// The bytes the other program saved.
    pub saved: Vec<u8>,
    /// The replaced file itself, renamed beside the chapter to a hidden name that no sweep
    /// removes (`.<name>.aigcq-saved-<time>`): if aigcq dies before the caller has kept its
    /// copy, the save is still there.
    aside: Option<PathBuf>,
}

impl Raced {
    /// The caller has kept its copy: the file set aside goes.
    pub fn kept(self) -> io::Result<()> {
        match &self.aside {
            Some(p) => fs::remove_file(p),
            None => Ok(()),
        }
    }
}

/// Replaces the file at `path`, which the caller read as `expected`, with `bytes`, and tells
/// exactly what the replacing rename took away: on Linux the new file and the old one swap
/// names in one step (`renameat2(RENAME_EXCHANGE)`), so a save by another program up to that
/// instant is never lost unseen; elsewhere (or on a file system without the exchange) the file
/// is compared just before the rename, which leaves a window of microseconds. All slow work
/// (writing and syncing the new file) happens before. `Ok(None)`: it held `expected`.
pub fn replace(path: &Path, expected: &[u8], bytes: &[u8]) -> io::Result<Option<Raced>> {
    let path = if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        fs::canonicalize(path)?
    } else {
        path.to_path_buf()
    };
    let dir = folder(&path).to_path_buf();
    let meta = fs::metadata(&path)?;
    if meta.permissions().readonly() {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, "the file is read-only"));
    }
    let mut tmp = locked_temp(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().set_permissions(meta.permissions())?;
    tmp.as_file().sync_all()?;
    let raced = match exchange(tmp.path(), &path) {
        Ok(()) => {
            // The temporary name now holds what was at `path` an instant ago.
            let (file, aside) = tmp.into_parts();
            drop(file);
            let aside = aside.keep().map_err(|e| e.error)?;
            let old = File::open(&aside)?;
            old.lock()?;
            let saved = fs::read(&aside)?;
            if saved == expected {
                fs::remove_file(&aside)?;
                None
            } else {
                let name = path.file_name().map_or_else(Default::default, |n| n.to_string_lossy());
                let stamp = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                let kept = dir.join(format!(".{name}.aigcq-saved-{stamp}"));
                fs::rename(&aside, &kept)?;
                drop(old);
                Some(Raced {
                    saved,
                    aside: Some(kept),
                })
            }
        }
        Err(_) => {
            let now = fs::read(&path)?;
            let raced = now != expected;
            tmp.persist(&path).map_err(|e| e.error)?;
            raced.then_some(Raced {
                saved: now,
                aside: None,
            })
        }
    };
    if let Ok(d) = File::open(&dir) {
        d.sync_all()?;
    }
    Ok(raced)
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Appends `lines` (each ending in a line feed) to the JSONL-style log at `path` in one
/// write under the file's own lock, then syncs: the ledger and the batch ledgers. A last line
/// a kill left without its line feed is cut off first, so every append starts a line of its
/// own; readers leave such a line out ([`complete_lines`]).
pub fn append_lines(path: &Path, lines: &str) -> io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut f = File::options().create(true).read(true).append(true).open(path)?;
    f.lock()?;
    drop_torn_line(&mut f)?;
    f.write_all(lines.as_bytes())?;
    f.sync_data()
}

/// `text` up to and with its last line feed: a last line without one was torn by a crash.
pub fn complete_lines(text: &str) -> &str {
    text.rfind('\n').map_or("", |nl| &text[..=nl])
}

/// Cuts off a last line without its line feed: a write of a few pages that a kill stopped
/// part-way.
fn drop_torn_line(f: &mut File) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = f.metadata()?.len();
    let mut tail = Vec::new();
    let mut back = 0;
    // Read backwards in chunks until the last line feed (entries are a few hundred bytes).
    while back < len {
        back = (back + 4096).min(len);
        f.seek(SeekFrom::Start(len - back))?;
        tail.clear();
        f.read_to_end(&mut tail)?;
        if tail.last() == Some(&b'\n') {
            return Ok(());
        }
        if let Some(nl) = tail.iter().rposition(|&b| b == b'\n') {
            return f.set_len(len - back + nl as u64 + 1);
        }
    }
    f.set_len(0)
}

/// An exclusive advisory lock, held until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// How long [`lock`] waits before saying that it waits.
pub const PATIENCE: Duration = Duration::from_secs(1);

/// Takes the lock file at `path` (created with its folder when missing), waiting as long as
/// another process holds it; `waiting` is called once if that takes longer than [`PATIENCE`].
pub fn lock(path: &Path, waiting: impl FnOnce()) -> io::Result<Lock> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let file = File::options().create(true).truncate(false).write(true).open(path)?;
    let started = Instant::now();
    let mut waiting = Some(waiting);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(e),
        }
        if started.elapsed() >= PATIENCE
            && let Some(w) = waiting.take()
        {
            w();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How old an unlocked temporary file must be before [`sweep`] takes it for a leftover: a
/// writer creates its file an instant before it locks it.
const LEFTOVER_AGE: Duration = Duration::from_secs(10);

/// Removes the temporary files a killed run left below `dir`: only names of aigcq's own
/// pattern, only files no live process holds locked. Returns what it removed.
pub fn sweep(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let walk = walkdir::WalkDir::new(dir).into_iter().filter_map(Result::ok);
    for e in walk.filter(|e| e.file_type().is_file()) {
        let name = e.file_name().to_string_lossy();
        if !(name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)) {
            continue;
        }
        let old = e
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age >= LEFTOVER_AGE);
        let Ok(f) = File::open(e.path()) else { continue };
        if old && f.try_lock().is_ok() && fs::remove_file(e.path()).is_ok() {
            removed.push(e.into_path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_keeps_permissions_and_leaves_no_temporary_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.md");
        write(&p, b"one").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.md"]);
    }

    #[test]
    fn replace_tells_what_it_replaced_and_keeps_a_racing_save_beside_until_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ch.md");
        write(&p, b"read").unwrap();
        assert!(replace(&p, b"read", b"merged").unwrap().is_none());
        assert_eq!(fs::read(&p).unwrap(), b"merged");
        // Another program saved after the caller read "merged".
        fs::write(&p, b"saved by an editor").unwrap();
        let raced = replace(&p, b"merged", b"merged again").unwrap().expect("raced");
        assert_eq!(raced.saved, b"saved by an editor");
        assert_eq!(fs::read(&p).unwrap(), b"merged again");
        let beside = |d: &Path| {
            fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != "ch.md")
                .collect::<Vec<_>>()
        };
        let left = beside(dir.path());
        assert!(
            left.len() == 1 && left[0].starts_with(".ch.md.aigcq-saved-"),
            "{left:?}"
        );
        assert_eq!(fs::read(dir.path().join(&left[0])).unwrap(), b"saved by an editor");
        // Old enough for the sweep, which still leaves it: its name is no temporary file's.
        let aside = File::options().write(true).open(dir.path().join(&left[0])).unwrap();
        aside.set_modified(SystemTime::now() - Duration::from_secs(60)).unwrap();
        assert!(sweep(dir.path()).is_empty(), "no sweep removes it");
        raced.kept().unwrap();
        assert!(beside(dir.path()).is_empty());
    }

    #[test]
    fn symbolic_links_are_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.md");
        write(&target, b"old").unwrap();
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink("real.md", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_held_lock_makes_the_next_taker_wait_and_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("locks/ch.lock");
        let held = lock(&p, || panic!("free")).unwrap();
        let said = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = said.clone();
        let t = std::thread::spawn(move || {
            let _l = lock(&p, || s.store(true, std::sync::atomic::Ordering::SeqCst)).unwrap();
        });
        std::thread::sleep(PATIENCE + Duration::from_millis(300));
        assert!(!t.is_finished(), "waits while the lock is held");
        assert!(said.load(std::sync::atomic::Ordering::SeqCst), "said so after a second");
        drop(held);
        t.join().unwrap();
    }

    #[test]
    fn read_only_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ro.md");
        fs::write(&p, "keep").unwrap();
        let mut perm = fs::metadata(&p).unwrap().permissions();
        perm.set_readonly(true);
        fs::set_permissions(&p, perm).unwrap();
        let e = write(&p, b"new").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(fs::read(&p).unwrap(), b"keep");
    }
}
