//! The one way ml writes a file: atomically, through a temporary file in the target's directory.
//!
//! [`write_file_atomic`] refuses a target that is not a regular file (a directory, a FIFO, a
//! device, a socket) before writing anything, follows a symbolic link to a regular file (the
//! link stays and its target is replaced; a link to nothing or to a non-regular file is
//! refused), writes a temporary file `.<name>.tmp-<pid>-<n>` beside the target, flushes and
//! syncs it, gives it the permissions of the file it replaces, and renames it over the target.
//! On any failure the temporary file is removed and the target is left as it was.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{MlError, Result};

/// What an atomic write's callback writes into (the temporary file, buffered).
pub(crate) type AtomicSink<'a> = dyn Write + Send + 'a;

/// Writes `path` atomically: `write` fills a temporary file in the same directory, which is
/// flushed, synced and renamed over the target (see the module documentation for which
/// targets are refused). On any error the temporary file is removed and `path` is untouched.
pub(crate) fn write_file_atomic<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut AtomicSink<'_>) -> Result<()>,
{
    write_file_atomic_via(path, Ok, write)
}

/// [`write_file_atomic`], syncing the temporary file before the rename only when `sync`. Not
/// syncing is for scratch files that live no longer than the process (a copy in a temporary
/// directory), which need not reach the disk; they are still written under a temporary name
/// and renamed when complete, so a reader never sees a partial file.
pub(crate) fn write_file_atomic_with_sync<F>(path: &Path, sync: bool, write: F) -> Result<()>
where
    F: FnOnce(&mut AtomicSink<'_>) -> Result<()>,
{
    stage_via_with(path, Ok, write, sync)?.commit()
}

/// [`write_file_atomic`] with the temporary [`File`] wrapped by `wrap` (tests wrap it in a
/// writer that fails after a number of bytes, as a full disk does).
pub(crate) fn write_file_atomic_via<W, F>(
    path: &Path,
    wrap: impl FnOnce(File) -> io::Result<W>,
    write: F,
) -> Result<()>
where
    W: Write + Send + IntoFile,
    F: FnOnce(&mut AtomicSink<'_>) -> Result<()>,
{
    stage_via(path, wrap, write)?.commit()
}

/// A temporary file written, flushed and synced beside its target, not yet renamed over it.
/// Dropped without [`Staged::commit`], it removes the temporary file.
#[derive(Debug)]
pub(crate) struct Staged {
    /// The path as the caller gave it (for messages).
    path: PathBuf,
    /// The file the rename replaces (the path, or the regular file a link names).
    target: PathBuf,
    tmp: PathBuf,
    done: bool,
}

impl Staged {
    /// Renames the temporary file over the target.
    pub(crate) fn commit(mut self) -> Result<()> {
        let r = fs::rename(&self.tmp, &self.target).map_err(|e| MlError::io(&self.path, e));
        self.done = r.is_ok();
        r
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A name beside `target` that no other write of this process uses: `.<name>.<what>-<pid>-<n>`.
fn sibling_name(target: &Path, what: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dir.join(format!(
        ".{name}.{what}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Everything of an atomic write but the rename: checks the target, fills and syncs the
/// temporary file (with the permissions of the file it will replace).
pub(crate) fn stage_via<W, F>(
    path: &Path,
    wrap: impl FnOnce(File) -> io::Result<W>,
    write: F,
) -> Result<Staged>
where
    W: Write + Send + IntoFile,
    F: FnOnce(&mut AtomicSink<'_>) -> Result<()>,
{
    stage_via_with(path, wrap, write, true)
}

/// [`stage_via`], syncing the temporary file only when `sync`.
fn stage_via_with<W, F>(
    path: &Path,
    wrap: impl FnOnce(File) -> io::Result<W>,
    write: F,
    sync: bool,
) -> Result<Staged>
where
    W: Write + Send + IntoFile,
    F: FnOnce(&mut AtomicSink<'_>) -> Result<()>,
{
    let target = writable_target(path)?;
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| MlError::io(dir, e))?;
    let tmp = sibling_name(&target, "tmp");
    let file = File::create(&tmp).map_err(|e| MlError::io(&tmp, e))?;
    let staged = Staged {
        path: path.to_path_buf(),
        target,
        tmp,
        done: false,
    };
    let inner = wrap(file).map_err(|e| MlError::io(path, e))?;
    let mut writer = BufWriter::with_capacity(1 << 20, inner);
    write(&mut writer)?;
    let file = writer
        .into_inner()
        .map_err(|e| MlError::io(path, e.into_error()))?
        .into_file()
        .map_err(|e| MlError::io(path, e))?;
    if sync {
        file.sync_all().map_err(|e| MlError::io(path, e))?;
    }
    if let Ok(previous) = fs::metadata(&staged.target) {
        fs::set_permissions(&staged.tmp, previous.permissions())
            .map_err(|e| MlError::io(&staged.tmp, e))?;
    }
    Ok(staged)
}

/// Checks that `path` can take an output: it is a regular file, a symbolic link to one, or
/// absent. A directory, FIFO, device, socket or dangling link is an [`MlError::Io`] naming
/// `path` and what it is. Call it before long work whose result goes to `path`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// assert!(ml_core::io::check_output_path(&dir.path().join("new.csv")).is_ok());
/// let e = ml_core::io::check_output_path(dir.path()).unwrap_err().to_string();
/// assert!(e.contains("it is a directory"), "{e}");
/// ```
pub fn check_output_path(path: impl AsRef<Path>) -> Result<()> {
    writable_target(path.as_ref()).map(drop)
}

/// Several output files of one command, committed together: each is written to a temporary
/// file beside its target as it is added (so a failure while writing any of them, or a target
/// that cannot be replaced, leaves every target untouched), and [`OutputFiles::commit`]
/// renames them all into place. Should a rename fail, the outputs renamed before it are put
/// back as they were (the replaced files are kept as hard links until every rename is done).
/// Dropped without a commit, the temporary files are removed and nothing is replaced.
///
/// ```
/// use ml_core::io::OutputFiles;
/// let dir = tempfile::tempdir().unwrap();
/// let (a, b) = (dir.path().join("model.json"), dir.path().join("pred.csv"));
/// std::fs::write(&a, "old model").unwrap();
/// let mut out = OutputFiles::new();
/// out.bytes(&a, b"new model").unwrap();
/// // The second output is a directory: refused, and the first is not replaced.
/// assert!(out.bytes(dir.path(), b"x").is_err());
/// drop(out);
/// assert_eq!(std::fs::read_to_string(&a).unwrap(), "old model");
///
/// let mut out = OutputFiles::new();
/// out.bytes(&a, b"new model").unwrap();
/// out.values_csv(&b, "prediction", &[0.5]).unwrap();
/// out.commit().unwrap();
/// assert_eq!(std::fs::read_to_string(&a).unwrap(), "new model");
/// assert_eq!(std::fs::read_to_string(&b).unwrap(), "prediction\n0.5\n");
/// ```
#[derive(Debug, Default)]
pub struct OutputFiles {
    staged: Vec<Staged>,
}

impl OutputFiles {
    /// No outputs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an output whose contents `write` produces (written to its temporary file now).
    pub(crate) fn add(
        &mut self,
        path: &Path,
        write: impl FnOnce(&mut AtomicSink<'_>) -> Result<()>,
    ) -> Result<()> {
        let staged = stage_via(path, Ok, write)?;
        if let Some(other) = self.staged.iter().find(|s| s.target == staged.target) {
            return Err(MlError::io(
                path,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the same file as the output '{}'; give each output its own path",
                        other.path.display()
                    ),
                ),
            ));
        }
        self.staged.push(staged);
        Ok(())
    }

    /// Adds an output holding `bytes`.
    pub fn bytes(&mut self, path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
        let path = path.as_ref();
        self.add(path, |w| {
            w.write_all(bytes).map_err(|e| MlError::io(path, e))
        })
    }

    /// Adds a CSV output of `data`, as [`write_csv`](crate::io::write_csv) writes it.
    pub fn csv(&mut self, data: &crate::Dataset, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let cells = super::csv_write::CsvCells::new(data)?;
        self.add(path, |w| cells.write(path, w))
    }

    /// Adds a one-column CSV output, as [`write_values_csv`](crate::io::write_values_csv)
    /// writes it.
    pub fn values_csv(
        &mut self,
        path: impl AsRef<Path>,
        column: &str,
        values: &[f64],
    ) -> Result<()> {
        let path = path.as_ref();
        self.add(path, |w| {
            super::csv_write::values_into(path, column, values, w)
        })
    }

    /// Renames every output into place, in the order they were added. A target that has
    /// become something else than a regular file since it was added is refused before any
    /// rename; a failed rename puts back the outputs already renamed.
    pub fn commit(mut self) -> Result<()> {
        for s in &self.staged {
            writable_target(&s.path)?;
        }
        // The files about to be replaced, kept under a second name until every rename is done.
        let mut previous: Vec<Previous> = Vec::with_capacity(self.staged.len());
        for s in &self.staged {
            previous.push(if fs::symlink_metadata(&s.target).is_err() {
                Previous::Absent
            } else {
                let b = sibling_name(&s.target, "prev");
                match fs::hard_link(&s.target, &b) {
                    Ok(()) => Previous::Kept(b),
                    Err(_) => Previous::NotKept,
                }
            });
        }
        let staged = std::mem::take(&mut self.staged);
        let mut renamed: Vec<(PathBuf, Previous)> = Vec::new();
        let mut failure = None;
        let mut previous = previous.into_iter();
        for s in staged {
            let prev = previous.next().unwrap_or(Previous::NotKept);
            let target = s.target.clone();
            match s.commit() {
                Ok(()) => renamed.push((target, prev)),
                Err(e) => {
                    prev.discard();
                    failure = Some(e);
                    break;
                }
            }
        }
        // Outputs never reached: their temporaries went with their Staged, drop the backups.
        previous.for_each(Previous::discard);
        match failure {
            None => {
                for (_, prev) in renamed {
                    prev.discard();
                }
                Ok(())
            }
            Some(e) => {
                for (target, prev) in renamed {
                    match prev {
                        Previous::Kept(b) => {
                            let _ = fs::rename(b, &target);
                        }
                        Previous::Absent => {
                            let _ = fs::remove_file(&target);
                        }
                        Previous::NotKept => {}
                    }
                }
                Err(e)
            }
        }
    }
}

/// What stood at an output's target before [`OutputFiles::commit`].
enum Previous {
    /// Nothing: undoing the rename removes the output.
    Absent,
    /// A file, hard-linked here: undoing the rename puts it back.
    Kept(PathBuf),
    /// A file that could not be linked (a file system without hard links): it stays replaced.
    NotKept,
}

impl Previous {
    fn discard(self) {
        if let Previous::Kept(b) = self {
            let _ = fs::remove_file(b);
        }
    }
}

/// A writer that hands back the [`File`] it wraps once everything is written to it.
pub(crate) trait IntoFile {
    /// Flushes whatever is pending and returns the file.
    fn into_file(self) -> io::Result<File>;
}

impl IntoFile for File {
    fn into_file(self) -> io::Result<File> {
        Ok(self)
    }
}

/// The path an atomic write to `path` replaces: `path` itself when it is a regular file or
/// absent, the file a symbolic link leads to when that is a regular file; anything else is an
/// [`MlError::Io`] naming `path` and what it is.
fn writable_target(path: &Path) -> Result<PathBuf> {
    let refuse = |what: String| {
        MlError::io(
            path,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{what}; refusing to replace it (only a regular file is replaced)"),
            ),
        )
    };
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(path.to_path_buf()),
        Err(e) => return Err(MlError::io(path, e)),
    };
    if meta.file_type().is_symlink() {
        return match fs::metadata(path) {
            Ok(m) if m.is_file() => fs::canonicalize(path).map_err(|e| MlError::io(path, e)),
            Ok(m) => Err(refuse(format!(
                "a symbolic link to {}",
                kind_of(&m.file_type())
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(refuse("a symbolic link to a missing file".into()))
            }
            Err(e) => Err(MlError::io(path, e)),
        };
    }
    if meta.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(refuse(format!("it is {}", kind_of(&meta.file_type()))))
    }
}

/// "a directory", "a FIFO", ... for error messages.
pub(crate) fn kind_of(t: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A file that accepts `left` more bytes, then fails every write as a full disk does.
    pub(crate) struct FailAfter {
        pub(crate) file: File,
        pub(crate) left: usize,
    }

    impl Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "no space left on device",
                ));
            }
            let n = buf.len().min(self.left);
            let n = self.file.write(&buf[..n])?;
            self.left -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.file.flush()
        }
    }

    impl IntoFile for FailAfter {
        fn into_file(self) -> io::Result<File> {
            Ok(self.file)
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// 3 MB: more than the 1 MiB buffer, so failures hit both the callback's writes and the
    /// final flush.
    fn payload() -> Vec<u8> {
        (0..3_000_000u32).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn a_write_failing_after_n_bytes_leaves_the_previous_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        fs::write(&path, b"previous contents").unwrap();
        let bytes = payload();
        for n in [0, 1, 4096, (1 << 20) - 1, 1 << 20, 2_999_999] {
            let e = write_file_atomic_via(
                &path,
                |file| Ok(FailAfter { file, left: n }),
                |w| w.write_all(&bytes).map_err(|e| MlError::io(&path, e)),
            )
            .unwrap_err();
            assert!(matches!(e, MlError::Io { .. }), "{n}: {e}");
            assert!(e.to_string().contains("model.json"), "{e}");
            assert_eq!(fs::read(&path).unwrap(), b"previous contents", "{n}");
            assert_eq!(names(dir.path()), ["model.json"], "{n}");
        }
        // Failing at the last flush (everything fit in the buffer but not on the disk).
        let e = write_file_atomic_via(
            &path,
            |file| Ok(FailAfter { file, left: 10 }),
            |w| {
                w.write_all(&bytes[..100])
                    .map_err(|e| MlError::io(&path, e))
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("no space left"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), b"previous contents");
        assert_eq!(names(dir.path()), ["model.json"]);
        // With room enough, the whole payload replaces the file.
        write_file_atomic_via(
            &path,
            |file| {
                Ok(FailAfter {
                    file,
                    left: 3_000_000,
                })
            },
            |w| w.write_all(&bytes).map_err(|e| MlError::io(&path, e)),
        )
        .unwrap();
        assert_eq!(fs::read(&path).unwrap(), bytes);
        assert_eq!(names(dir.path()), ["model.json"]);
    }

    #[test]
    fn an_error_from_the_callback_leaves_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        fs::write(&path, b"old").unwrap();
        let e = write_file_atomic(&path, |w| {
            w.write_all(b"half a file").unwrap();
            Err(MlError::data("the second batch failed"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("second batch"));
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.csv"]);
    }

    #[cfg(unix)]
    #[test]
    fn only_a_regular_file_or_nothing_is_replaced_and_links_are_followed() {
        use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let write =
            |p: &Path| write_file_atomic(p, |w| w.write_all(b"new").map_err(|e| MlError::io(p, e)));

        // A directory is refused and left alone.
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("sub/keep"), b"k").unwrap();
        let e = write(&d.join("sub")).unwrap_err().to_string();
        assert!(e.contains("it is a directory") && e.contains("sub"), "{e}");
        assert_eq!(fs::read(d.join("sub/keep")).unwrap(), b"k");

        // A FIFO is refused (without opening it, which would block).
        let fifo = d.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo");
        let e = write(&fifo).unwrap_err().to_string();
        assert!(e.contains("it is a FIFO"), "{e}");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

        // A character device is refused.
        let e = write(Path::new("/dev/null")).unwrap_err().to_string();
        assert!(e.contains("character device"), "{e}");

        // A link to a regular file: the target is replaced, the link stays a link.
        fs::write(d.join("real.json"), b"old").unwrap();
        fs::set_permissions(d.join("real.json"), fs::Permissions::from_mode(0o600)).unwrap();
        symlink(d.join("real.json"), d.join("link.json")).unwrap();
        write(&d.join("link.json")).unwrap();
        assert_eq!(fs::read(d.join("real.json")).unwrap(), b"new");
        assert!(fs::symlink_metadata(d.join("link.json"))
            .unwrap()
            .file_type()
            .is_symlink());
        // The replacement keeps the permissions of the file it replaced.
        let mode = fs::metadata(d.join("real.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        // A dangling link and a link to a directory are refused.
        symlink(d.join("nowhere"), d.join("dangling")).unwrap();
        let e = write(&d.join("dangling")).unwrap_err().to_string();
        assert!(e.contains("symbolic link to a missing file"), "{e}");
        assert!(!d.join("nowhere").exists());
        symlink(d.join("sub"), d.join("dirlink")).unwrap();
        let e = write(&d.join("dirlink")).unwrap_err().to_string();
        assert!(e.contains("symbolic link to a directory"), "{e}");

        // An absent file is created; nothing else is left in the directory.
        write(&d.join("fresh.csv")).unwrap();
        assert_eq!(fs::read(d.join("fresh.csv")).unwrap(), b"new");
        assert!(
            !names(d).iter().any(|n| n.contains(".tmp-")),
            "{:?}",
            names(d)
        );
    }

    #[test]
    fn several_outputs_are_committed_together_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (a, b) = (d.join("model.json"), d.join("pred.csv"));
        fs::write(&a, b"old model").unwrap();
        fs::write(&b, b"old pred").unwrap();

        // The second output cannot be written (a directory): the first is not replaced.
        fs::create_dir(d.join("sub")).unwrap();
        let mut out = OutputFiles::new();
        out.bytes(&a, b"new model").unwrap();
        let e = out.bytes(d.join("sub"), b"x").unwrap_err().to_string();
        assert!(e.contains("sub") && e.contains("it is a directory"), "{e}");
        drop(out);
        assert_eq!(fs::read(&a).unwrap(), b"old model");
        assert_eq!(names(d), ["model.json", "pred.csv", "sub"]);

        // A target that turns into a directory after it was added: refused before any rename.
        let c = d.join("later.csv");
        let mut out = OutputFiles::new();
        out.bytes(&a, b"new model").unwrap();
        out.bytes(&c, b"c").unwrap();
        fs::create_dir(&c).unwrap();
        let e = out.commit().unwrap_err().to_string();
        assert!(e.contains("later.csv") && e.contains("directory"), "{e}");
        assert_eq!(fs::read(&a).unwrap(), b"old model");
        fs::remove_dir(&c).unwrap();

        // The second rename fails (its temporary file is gone): the first is put back, and a
        // third output that did not exist before is not left behind.
        let mut out = OutputFiles::new();
        out.bytes(&c, b"c").unwrap();
        out.bytes(&a, b"new model").unwrap();
        out.bytes(&b, b"new pred").unwrap();
        fs::remove_file(&out.staged[1].tmp).unwrap();
        let e = out.commit().unwrap_err().to_string();
        assert!(e.contains("model.json"), "{e}");
        assert_eq!(fs::read(&a).unwrap(), b"old model");
        assert_eq!(fs::read(&b).unwrap(), b"old pred");
        assert!(!c.exists());
        assert_eq!(names(d), ["model.json", "pred.csv", "sub"]);

        // Two outputs to one file are refused.
        let mut out = OutputFiles::new();
        out.bytes(&a, b"1").unwrap();
        let e = out.bytes(&a, b"2").unwrap_err().to_string();
        assert!(e.contains("the same file"), "{e}");
        drop(out);

        // All written: every target replaced, no temporary or backup left.
        let mut out = OutputFiles::new();
        out.bytes(&a, b"new model").unwrap();
        out.values_csv(&b, "prediction", &[0.25, 1.0]).unwrap();
        out.commit().unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"new model");
        assert_eq!(fs::read(&b).unwrap(), b"prediction\n0.25\n1\n");
        assert_eq!(names(d), ["model.json", "pred.csv", "sub"]);
    }
}
