//! Reading a file the host was pointed at without trusting what sits there.
//!
//! Every file the host reads on a plugin's or an admin's behalf (manifests,
//! workflows, components, journals and their heads, staged blobs, compile
//! cache entries) goes through [`read_regular`]. The threat is a path that
//! names something other than a file: `/dev/zero` or `/dev/urandom` never
//! end (and report a size of 0, so a size check on `metadata().len()` passes
//! them), a FIFO blocks the open until a writer comes, a directory cannot be
//! read at all. So the path is checked before it is opened, opened with
//! `O_NONBLOCK` (a FIFO swapped in after the check does not block the open),
//! checked again on the open handle (`fstat`, so a file swapped in between is
//! caught), and read up to the cap plus one byte: whatever the size the file
//! claims, memory stays bounded.
//!
//! Host-owned files ([`Symlinks::Refuse`]) are also opened with `O_NOFOLLOW`:
//! nothing in a state dir is a symlink, so one there was planted. Admin
//! inputs ([`Symlinks::Follow`]) may be symlinks to a regular file.

use std::fs::{File, Metadata};
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// Whether the last path component may be a symlink (to a regular file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// An admin's input (a manifest, a workflow, a component).
    Follow,
    /// A file the host itself wrote (journal, head, blob, cache entry).
    Refuse,
}

/// What a path names, when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
    Socket,
    Other,
}

impl FileKind {
    /// The kind of a non-regular file (`None` for a regular file).
    pub fn of(meta: &Metadata) -> Option<FileKind> {
        let t = meta.file_type();
        if t.is_file() {
            None
        } else if t.is_dir() {
            Some(FileKind::Directory)
        } else if t.is_symlink() {
            Some(FileKind::Symlink)
        } else if t.is_fifo() {
            Some(FileKind::Fifo)
        } else if t.is_char_device() {
            Some(FileKind::CharDevice)
        } else if t.is_block_device() {
            Some(FileKind::BlockDevice)
        } else if t.is_socket() {
            Some(FileKind::Socket)
        } else {
            Some(FileKind::Other)
        }
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a named pipe (FIFO)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Other => "a special file",
        })
    }
}

/// A file that could not be read, or was refused unread.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {what} `{}`", shown(.path))]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{what} `{}` is {kind}, not a regular file\nhint: the host reads only regular files here (a device or a pipe can block it or never end); put a regular file at that path",
        shown(.path)
    )]
    NotRegular {
        what: &'static str,
        path: PathBuf,
        kind: FileKind,
    },
    #[error(
        "{what} `{}` is {size} bytes, over the {cap}-byte limit\nhint: this is not the file the host expects here; check the path",
        shown(.path)
    )]
    TooLarge {
        what: &'static str,
        path: PathBuf,
        /// The size the file claims, or (if it grew while read) the bytes read.
        size: u64,
        cap: u64,
    },
    #[error(
        "{what} `{}` is not UTF-8 text\nhint: save it as UTF-8",
        shown(.path)
    )]
    NotUtf8 { what: &'static str, path: PathBuf },
}

impl ReadError {
    /// The path does not exist (callers often treat that as "none yet").
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::NotRegular { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::NotUtf8 { path, .. } => path,
        }
    }
}

fn shown(path: &Path) -> String {
    crate::render::inert(&path.display().to_string())
}

/// [`read_regular`] for a text file (a manifest, a workflow, a policy).
pub fn read_text(
    path: &Path,
    cap: u64,
    what: &'static str,
    symlinks: Symlinks,
) -> Result<String, ReadError> {
    String::from_utf8(read_regular(path, cap, what, symlinks)?).map_err(|_| ReadError::NotUtf8 {
        what,
        path: path.to_path_buf(),
    })
}

/// Read the regular file at `path`, at most `cap` bytes; `what` names it in
/// errors ("plugin manifest", "journal"). Anything but a regular file is
/// refused without being read; a file over `cap` is refused after reading at
/// most `cap + 1` bytes.
pub fn read_regular(
    path: &Path,
    cap: u64,
    what: &'static str,
    symlinks: Symlinks,
) -> Result<Vec<u8>, ReadError> {
    open_regular(path, cap, what, symlinks)?.read()
}

/// A regular file opened and checked by [`open_regular`], not read yet.
#[derive(Debug)]
pub struct Opened {
    file: File,
    meta: Metadata,
    path: PathBuf,
    cap: u64,
    what: &'static str,
}

impl Opened {
    /// The open file (positioned at its start until [`Opened::read`]).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// What `fstat` said of the open file.
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// The whole file, at most the cap given to [`open_regular`] (a file that
    /// grew past it since the open is refused after reading one byte more).
    pub fn read(self) -> Result<Vec<u8>, ReadError> {
        let Self {
            file,
            meta,
            path,
            cap,
            what,
        } = self;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        match file.take(cap.saturating_add(1)).read_to_end(&mut bytes) {
            Ok(_) if bytes.len() as u64 > cap => Err(ReadError::TooLarge {
                what,
                path,
                size: bytes.len() as u64,
                cap,
            }),
            Ok(_) => Ok(bytes),
            Err(source) => Err(ReadError::Io { what, path, source }),
        }
    }
}

/// Open the regular file at `path` for reading, refusing anything else and
/// any file over `cap` bytes, without reading it: [`read_regular`] for a
/// caller that decides from the file's metadata whether to read it at all.
pub fn open_regular(
    path: &Path,
    cap: u64,
    what: &'static str,
    symlinks: Symlinks,
) -> Result<Opened, ReadError> {
    let io = |source| ReadError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    let refuse = |meta: &Metadata| {
        FileKind::of(meta).map(|kind| ReadError::NotRegular {
            what,
            path: path.to_path_buf(),
            kind,
        })
    };
    // Checked before opening: opening some devices has effects of its own.
    let before = match symlinks {
        Symlinks::Follow => std::fs::metadata(path),
        Symlinks::Refuse => std::fs::symlink_metadata(path),
    }
    .map_err(io)?;
    if let Some(e) = refuse(&before) {
        return Err(e);
    }
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if symlinks == Symlinks::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = match File::options().read(true).custom_flags(flags).open(path) {
        Ok(file) => file,
        // A symlink swapped in after the check (O_NOFOLLOW answers ELOOP).
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) && symlinks == Symlinks::Refuse => {
            return Err(ReadError::NotRegular {
                what,
                path: path.to_path_buf(),
                kind: FileKind::Symlink,
            });
        }
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    if let Some(e) = refuse(&meta) {
        return Err(e);
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge {
            what,
            path: path.to_path_buf(),
            size: meta.len(),
            cap,
        });
    }
    Ok(Opened {
        file,
        meta,
        path: path.to_path_buf(),
        cap,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_reads_whole_and_a_larger_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").expect("write");
        let read = |cap| read_regular(&path, cap, "test file", Symlinks::Refuse);
        assert_eq!(read(5).expect("read"), b"12345");
        let e = read(4).expect_err("too large");
        assert!(
            matches!(
                e,
                ReadError::TooLarge {
                    size: 5,
                    cap: 4,
                    ..
                }
            ),
            "{e}"
        );
        let missing =
            read_regular(&dir.path().join("nope"), 9, "x", Symlinks::Follow).expect_err("missing");
        assert!(missing.is_not_found(), "{missing}");
    }

    #[test]
    fn devices_fifos_directories_and_planted_symlinks_are_refused_unread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("cstring");
        // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let link = dir.path().join("link");
        std::fs::write(dir.path().join("target"), b"x").expect("write");
        std::os::unix::fs::symlink(dir.path().join("target"), &link).expect("symlink");
        let cases: [(&Path, Symlinks, FileKind); 4] = [
            (
                Path::new("/dev/zero"),
                Symlinks::Follow,
                FileKind::CharDevice,
            ),
            (&fifo, Symlinks::Follow, FileKind::Fifo),
            (dir.path(), Symlinks::Follow, FileKind::Directory),
            (&link, Symlinks::Refuse, FileKind::Symlink),
        ];
        for (path, symlinks, want) in cases {
            let e = read_regular(path, 1 << 20, "component", symlinks).expect_err("refused");
            assert!(
                matches!(&e, ReadError::NotRegular { kind, .. } if *kind == want),
                "{}: {e}",
                path.display()
            );
            let message = e.to_string();
            assert!(message.contains("not a regular file") && message.contains("hint:"));
        }
        assert_eq!(
            read_regular(&link, 9, "input", Symlinks::Follow).expect("followed"),
            b"x"
        );
    }
}
