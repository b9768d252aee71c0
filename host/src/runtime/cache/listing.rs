//! What an admin sees of the compile cache (`host cache show`, `host cache
//! clear`): every entry checked against the engines it may belong to, the
//! partial writes of interrupted compiles, and whatever else lies in the
//! directory (left alone). Only regular files whose names the cache itself
//! produces are ever removed.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use wasmtime::Engine;

use super::{CompileCache, EXTENSION, Problem, parse_entry};

impl CompileCache {
    /// Every entry in the directory, checked against this engine and the
    /// engines of `others` (caches of the same directory), and what else lies
    /// there. A directory that does not exist is an empty cache.
    pub(crate) fn inspect(&self, others: &[&CompileCache]) -> std::io::Result<CacheListing> {
        let mut listing = CacheListing {
            dir: self.dir.clone(),
            exists: false,
            entries: Vec::new(),
            partial_writes: Vec::new(),
            ignored: Vec::new(),
        };
        let read_dir = match std::fs::read_dir(&self.dir) {
            Ok(read_dir) => read_dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
            Err(e) => return Err(e),
        };
        listing.exists = true;
        for item in read_dir {
            let item = item?;
            let path = item.path();
            // `DirEntry::metadata` does not follow symlinks.
            let meta = item.metadata()?;
            let name = item.file_name();
            let kind = name.to_str().map_or(FileKind::Other, classify);
            if !meta.file_type().is_file() || kind == FileKind::Other {
                listing.ignored.push(path);
                continue;
            }
            let found = FoundFile {
                size: meta.len(),
                modified: meta.modified().ok(),
                path,
            };
            match kind {
                FileKind::Entry(key) => {
                    listing.entries.push(self.check_entry(found, &key, others)?);
                }
                FileKind::Temp => listing.partial_writes.push(found),
                // The cache's own tables of hashed files and descriptors, not entries.
                FileKind::Table | FileKind::Other => {}
            }
        }
        listing
            .entries
            .sort_by(|a, b| a.file.path.cmp(&b.file.path));
        listing.partial_writes.sort_by(|a, b| a.path.cmp(&b.path));
        listing.ignored.sort();
        Ok(listing)
    }

    fn check_entry(
        &self,
        file: FoundFile,
        key: &[u8; 32],
        others: &[&CompileCache],
    ) -> std::io::Result<CacheEntry> {
        let data =
            match super::open_entry_file(&file.path).and_then(crate::bounded_read::Opened::read) {
                Ok(data) => data,
                // Removed (say, by a concurrent `cache clear`) since it was listed.
                Err(e) if e.is_not_found() => Vec::new(),
                Err(crate::bounded_read::ReadError::Io { source, .. }) => return Err(source),
                // Only text reads decode.
                Err(e @ crate::bounded_read::ReadError::NotUtf8 { .. }) => {
                    return Err(std::io::Error::other(e.to_string()));
                }
                Err(crate::bounded_read::ReadError::TooLarge { .. }) => {
                    return Ok(CacheEntry {
                        file,
                        component_sha256: None,
                        status: EntryStatus::Damaged("larger than any entry this host writes"),
                    });
                }
                Err(crate::bounded_read::ReadError::NotRegular { .. }) => {
                    return Ok(CacheEntry {
                        file,
                        component_sha256: None,
                        status: EntryStatus::Damaged("not a regular file"),
                    });
                }
            };
        let component_sha256 = parse_entry(&data)
            .ok()
            .map(|(trailer, _)| hex::encode(trailer.component));
        let mut verdict = self.verify(&data, key);
        for other in others {
            if verdict == Err(Problem::OtherEngine) {
                verdict = other.verify(&data, key);
            }
        }
        let payload = parse_entry(&data).map_or(&[][..], |(_, payload)| payload);
        let status = match verdict {
            Ok(_)
                if Engine::detect_precompiled(payload)
                    == Some(wasmtime::Precompiled::Component) =>
            {
                EntryStatus::Valid
            }
            Ok(_) => EntryStatus::Damaged("the payload is not a precompiled component"),
            Err(Problem::OldFormat) => EntryStatus::OldFormat,
            Err(Problem::OtherEngine) => EntryStatus::OtherEngine,
            Err(Problem::Damaged(what)) => EntryStatus::Damaged(what),
        };
        Ok(CacheEntry {
            file,
            component_sha256,
            status,
        })
    }
}

/// What `host cache show` reports about a cache directory.
#[derive(Debug, Clone)]
pub struct CacheListing {
    /// The cache directory listed.
    pub dir: PathBuf,
    /// Whether the directory exists (a missing one is an empty cache).
    pub exists: bool,
    /// Entries, by file name.
    pub entries: Vec<CacheEntry>,
    /// Temporary files of writes that never finished (a crash mid-write).
    pub partial_writes: Vec<FoundFile>,
    /// Anything else in the directory: not the cache's, never touched.
    pub ignored: Vec<PathBuf>,
}

impl CacheListing {
    /// Bytes taken by entries and partial writes.
    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.file.size).sum::<u64>()
            + self.partial_writes.iter().map(|f| f.size).sum::<u64>()
    }
}

/// A regular file the cache recognises as its own.
#[derive(Debug, Clone)]
pub struct FoundFile {
    /// The file's path.
    pub path: PathBuf,
    /// Its size, in bytes.
    pub size: u64,
    /// Its modification time; `None` where the file system gives none.
    pub modified: Option<SystemTime>,
}

/// One compiled component in the cache.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    /// The entry's file.
    pub file: FoundFile,
    /// Lowercase hex sha256 of the component it was compiled from, if the
    /// header is readable.
    pub component_sha256: Option<String>,
    /// Whether this host would load it.
    pub status: EntryStatus,
}

/// Whether this host would load an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum EntryStatus {
    /// Header, name, engine and checksum all verify: the next load of its
    /// component is a hit.
    Valid,
    /// Compiled by another engine (another wasmtime version or other engine
    /// settings): never loaded by this host.
    OtherEngine,
    /// Written in an older entry format: replaced on next use.
    OldFormat,
    /// Truncated, modified, or not an entry at all: replaced on next use,
    /// never loaded.
    Damaged(&'static str),
}

impl EntryStatus {
    /// Stable kebab-case name, for `--json`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Valid => f.write_str("valid"),
            Self::OtherEngine => {
                f.write_str("compiled by another engine (wasmtime version or settings)")
            }
            Self::OldFormat => f.write_str("older entry format"),
            Self::Damaged(what) => write!(f, "damaged: {what}"),
        }
    }
}

/// What [`clear`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleared {
    /// How many of the cache's files were removed.
    pub files: usize,
    /// How many bytes they held.
    pub bytes: u64,
    /// Files in the directory that are not the cache's and were left alone.
    pub ignored: Vec<PathBuf>,
}

/// Remove every file of the cache in `dir`: entries and leftover temporary
/// files, regular files only. Symlinks (whatever their name), directories and
/// files the cache did not name are left alone. A missing directory is an
/// empty cache. Clearing while another host writes an entry is safe: that
/// write either lands whole afterwards or fails and is logged.
pub fn clear(dir: &Path) -> std::io::Result<Cleared> {
    let mut cleared = Cleared::default();
    let read_dir = match std::fs::read_dir(dir) {
        Ok(read_dir) => read_dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cleared),
        Err(e) => return Err(e),
    };
    for item in read_dir {
        let item = item?;
        let meta = item.metadata()?;
        let kind = item.file_name().to_str().map_or(FileKind::Other, classify);
        if kind == FileKind::Other || !meta.file_type().is_file() {
            cleared.ignored.push(item.path());
            continue;
        }
        match std::fs::remove_file(item.path()) {
            // The cache's tables go too, uncounted: they are no entries.
            Ok(()) if kind == FileKind::Table => {}
            Ok(()) => {
                cleared.files += 1;
                cleared.bytes += meta.len();
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    crate::atomic_file::sync_dir(dir)?;
    cleared.ignored.sort();
    Ok(cleared)
}

/// What a file name in the cache directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// `<64 lowercase hex>.cwasm`: an entry, under this key.
    Entry([u8; 32]),
    /// An unfinished atomic write ([`crate::atomic_file::is_temp_name`]).
    Temp,
    /// One of the cache's own tables: of hashed files
    /// ([`super::fingerprints`]) or of descriptors ([`super::descriptors`]).
    Table,
    Other,
}

fn classify(name: &str) -> FileKind {
    if let Some(stem) = name.strip_suffix(&format!(".{EXTENSION}"))
        && stem.len() == 64
        && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        let mut key = [0; 32];
        if hex::decode_to_slice(stem, &mut key).is_ok() {
            return FileKind::Entry(key);
        }
    }
    if crate::atomic_file::is_temp_name(name) {
        return FileKind::Temp;
    }
    if name == super::fingerprints::FILE_NAME || name == super::descriptors::FILE_NAME {
        return FileKind::Table;
    }
    FileKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    use crate::runtime::cache::tests::{COMPONENT, EMPTY_COMPONENT, cache, engine, key, names};
    use crate::runtime::cache::{CacheOutcome, TRAILER_LEN};

    #[test]
    fn inspect_reports_each_entry_with_its_component_and_status() {
        let (_d, cache) = cache();
        let engine = engine();
        assert!(cache.inspect(&[]).expect("inspect").entries.is_empty());

        let sha: [u8; 32] = Sha256::digest(EMPTY_COMPONENT).into();
        let (_, outcome) = cache
            .load_or_compile(&engine, EMPTY_COMPONENT, &sha)
            .expect("compile");
        assert_eq!(outcome, CacheOutcome::Miss);
        // Same bytes as a real entry of another engine: a name this engine
        // never computes, and a header whose key it does not derive.
        let foreign_key = [3; 32];
        let real = std::fs::read(cache.entry_path(&cache.key(&sha))).expect("read");
        let mut foreign = real.clone();
        let at = foreign.len() - TRAILER_LEN;
        foreign[at..at + 32].copy_from_slice(&foreign_key);
        std::fs::write(cache.entry_path(&foreign_key), &foreign).expect("write");
        // A checksummed entry whose payload is not machine code.
        let bogus = [5; 32];
        cache
            .write(&cache.key(&bogus), &bogus, b"text")
            .expect("write");
        std::fs::write(cache.dir.join(".tmp-1-2-3"), b"half").expect("write");
        std::fs::write(cache.dir.join("notes.txt"), b"mine").expect("write");

        let listing = cache.inspect(&[]).expect("inspect");
        assert!(listing.exists);
        let status = |digest: &[u8; 32]| {
            listing
                .entries
                .iter()
                .find(|e| e.file.path == cache.entry_path(&cache.key(digest)))
                .map(|e| {
                    assert_eq!(e.component_sha256, Some(hex::encode(digest)));
                    e.status
                })
        };
        assert_eq!(status(&sha), Some(EntryStatus::Valid));
        assert!(matches!(status(&bogus), Some(EntryStatus::Damaged(_))));
        let other = listing
            .entries
            .iter()
            .find(|e| e.file.path == cache.entry_path(&foreign_key))
            .expect("foreign entry listed");
        assert_eq!(other.status, EntryStatus::OtherEngine);
        assert_eq!(listing.entries.len(), 3);
        assert_eq!(listing.partial_writes.len(), 1);
        assert_eq!(listing.ignored, vec![cache.dir.join("notes.txt")]);
        assert_eq!(
            listing.total_bytes(),
            (real.len() * 2 + TRAILER_LEN + 4 + 4) as u64
        );
    }

    #[test]
    fn inspect_accepts_entries_of_any_engine_it_is_given() {
        let (_d, plain) = cache();
        let mut config = wasmtime::Config::new();
        config.consume_fuel(true);
        let metered_engine = Engine::new(&config).expect("engine");
        let metered = CompileCache::at(&plain.dir, &metered_engine);
        let sha: [u8; 32] = Sha256::digest(EMPTY_COMPONENT).into();
        metered
            .load_or_compile(&metered_engine, EMPTY_COMPONENT, &sha)
            .expect("compile");
        let alone = plain.inspect(&[]).expect("inspect");
        assert_eq!(alone.entries[0].status, EntryStatus::OtherEngine);
        let both = plain.inspect(&[&metered]).expect("inspect");
        assert_eq!(both.entries[0].status, EntryStatus::Valid);
    }

    #[test]
    fn inspect_of_a_missing_directory_is_an_empty_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CompileCache::at(&dir.path().join("none"), &engine());
        let listing = cache.inspect(&[]).expect("inspect");
        assert!(!listing.exists && listing.entries.is_empty());
        assert!(!dir.path().join("none").exists(), "inspect creates nothing");
        assert_eq!(
            clear(&dir.path().join("none")).expect("clear"),
            Cleared::default()
        );
    }

    #[cfg(unix)]
    #[test]
    fn clear_removes_only_the_caches_own_regular_files() {
        let (d, cache) = cache();
        let key = key(&cache);
        cache
            .write(&key, &COMPONENT, b"machine code")
            .expect("write");
        std::fs::write(cache.dir.join(".tmp-1-2-3"), b"half").expect("write");
        std::fs::write(cache.dir.join("notes.txt"), b"mine").expect("write");
        std::fs::create_dir(cache.dir.join(format!("{}.cwasm", "a".repeat(64)))).expect("mkdir");
        // A symlink named like an entry, pointing at a file outside: neither
        // the link nor its target may be removed.
        let outside = d.path().join("precious");
        std::fs::write(&outside, b"keep").expect("write");
        let link = cache.dir.join(format!("{}.cwasm", "b".repeat(64)));
        std::os::unix::fs::symlink(&outside, &link).expect("symlink");

        let cleared = clear(&cache.dir).expect("clear");
        assert_eq!(cleared.files, 2);
        assert_eq!(cleared.bytes, (TRAILER_LEN + 12 + 4) as u64);
        assert_eq!(cleared.ignored.len(), 3);
        assert_eq!(
            names(&cache.dir),
            vec![
                format!("{}.cwasm", "a".repeat(64)),
                format!("{}.cwasm", "b".repeat(64)),
                "notes.txt".to_string()
            ]
        );
        assert_eq!(std::fs::read(&outside).expect("read"), b"keep");
        assert!(link.is_symlink());
    }

    #[test]
    fn names_are_classified_exactly() {
        let key = "0123456789abcdef".repeat(4);
        assert!(matches!(
            classify(&format!("{key}.cwasm")),
            FileKind::Entry(_)
        ));
        assert_eq!(classify(".tmp-1-2-3"), FileKind::Temp);
        assert_eq!(classify("fingerprints"), FileKind::Table);
        assert_eq!(classify("descriptors"), FileKind::Table);
        for other in [
            format!("{}.cwasm", key.to_uppercase()),
            format!("{}.cwasm", &key[1..]),
            format!("{key}.wasm"),
            format!("{key}.cwasm.bak"),
            "x.cwasm".to_string(),
        ] {
            assert_eq!(classify(&other), FileKind::Other, "{other}");
        }
    }
}
