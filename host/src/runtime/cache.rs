//! The compile cache: precompiled components in the host's own cache
//! directory, trusted only after their checksum matches.
//!
//! Compiling a component takes from ~100 ms (small Rust tool) to seconds
//! (Python), so the machine code is cached. Loading a cached entry runs its
//! machine code without validation, so the cache is guarded:
//!
//! * The key is `sha256(tag ‖ engine compatibility hash ‖ sha256(component))`:
//!   a different component, a different wasmtime version or different engine
//!   settings give a different file name, never a stale hit.
//! * Each entry is `magic ‖ key ‖ sha256(component) ‖ blake3(payload) ‖
//!   payload`. The checksum is verified on the bytes in memory, and those same
//!   bytes are deserialized, so a truncated, corrupted or renamed entry is
//!   detected with no window between check and use. (The checksum is not a
//!   signature: whoever can write this directory can write a valid entry, so
//!   the directory must be the host's alone.) A bad entry (or
//!   one in an older format) is logged, removed and recompiled, never trusted.
//!   The component's own digest is in the header so `host cache show` can say
//!   which plugin an entry belongs to. The payload's checksum is BLAKE3, not
//!   SHA-256: a Python component's entry is ~35 MB, and on a hit hashing it is
//!   most of the load (SHA-256 with the CPU's SHA extensions: ~17 ms; BLAKE3
//!   with AVX-512: a few ms); it is as collision-resistant.
//! * Entries are written to a temp file in the same directory, fsync'd and
//!   renamed into place, so a crash leaves either no entry or a whole one.
//! * The directory belongs to the host: grants refuse to mount it and
//!   manifests may not name a `.cwasm`, so no plugin can supply an entry.
//! * Listing ([`inspect`]) and clearing ([`clear`]) touch only regular files
//!   whose names the cache itself produces (`<64 hex>.cwasm` and the
//!   temporary files of an interrupted write); symlinks, directories and any
//!   other file are left alone, so a cache directory pointed at the wrong
//!   place cannot cost anyone their files.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Versioned tag mixed into every key; bump it when the key derivation
/// changes. (A new entry *format* bumps [`MAGIC`] instead: old entries then
/// keep their names, fail the magic check, and are replaced on first use.)
const KEY_TAG: &[u8] = b"harness-compile-cache-v1";
/// First bytes of every entry, with the format version last.
const MAGIC: &[u8; 8] = b"HRNSCWv3";
/// What every format of entry starts with, so older ones are recognised.
const MAGIC_FAMILY: &[u8; 6] = b"HRNSCW";
const HEADER_LEN: usize = MAGIC.len() + 32 + 32 + 32;
/// File extension of cache entries.
const EXTENSION: &str = "cwasm";

/// The largest entry read back: a precompiled component is a few times the
/// size of its component, which is at most
/// [`super::load::MAX_COMPONENT_BYTES`].
const MAX_ENTRY_BYTES: u64 = 4 * super::load::MAX_COMPONENT_BYTES;

/// Read an entry: a regular file (never a symlink), at most [`MAX_ENTRY_BYTES`].
fn read_entry(path: &Path) -> Result<Vec<u8>, crate::bounded_read::ReadError> {
    crate::bounded_read::read_regular(
        path,
        MAX_ENTRY_BYTES,
        "compile cache entry",
        crate::bounded_read::Symlinks::Refuse,
    )
}

/// The verified bytes of an entry; derefs to its payload (the serialized
/// component), the header stays in front of it.
#[derive(Debug)]
pub(crate) struct Payload {
    entry: Vec<u8>,
}

impl std::ops::Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.entry[HEADER_LEN..]
    }
}

/// Whether a load was served from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// A verified entry was deserialized.
    Hit,
    /// No usable entry; the component was compiled (and stored).
    Miss,
}

/// The compile cache of one engine.
#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: PathBuf,
    engine_hash: [u8; 32],
}

impl CompileCache {
    /// Open (creating if needed) the cache directory for `engine`.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        create_private_dir(dir)?;
        Ok(Self::at(dir, engine))
    }

    /// The cache of `engine` in `dir`, which may not exist (nothing is created).
    pub(crate) fn at(dir: &Path, engine: &Engine) -> Self {
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self {
            dir: dir.to_path_buf(),
            engine_hash: hasher.0.finalize().into(),
        }
    }

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
                FileKind::Other => {}
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
        let data = match read_entry(&file.path) {
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
        let component_sha256 = parse_header(&data).ok().map(|h| hex::encode(h.component));
        let mut verdict = self.verify(&data, key);
        for other in others {
            if verdict == Err(Problem::OtherEngine) {
                verdict = other.verify(&data, key);
            }
        }
        let status = match verdict {
            Ok(_)
                if Engine::detect_precompiled(&data[HEADER_LEN..])
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

    /// The cache key of a component, given its sha256.
    pub(crate) fn key(&self, component_sha256: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(KEY_TAG);
        h.update(self.engine_hash);
        h.update(component_sha256);
        h.finalize().into()
    }

    fn entry_path(&self, key: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.{EXTENSION}", hex::encode(key)))
    }

    /// Whether an entry exists for this component (not whether it is intact:
    /// that is checked when it is read). Lets a caller announce a slow compile.
    pub(crate) fn has_entry(&self, component_sha256: &[u8; 32]) -> bool {
        self.entry_path(&self.key(component_sha256)).is_file()
    }

    /// Deserialize the cached component or compile (and cache) it.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        component_sha256: &[u8; 32],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let key = self.key(component_sha256);
        if let Some(payload) = self.read(&key) {
            // SAFETY: `Component::deserialize` runs machine code from
            // `payload` without validating it. These exact bytes were just
            // checked against the checksum stored with them at write time, under
            // a key that covers the component's sha256 and this engine's
            // compatibility hash, and the entry lives in the host's own cache
            // directory, which is never mounted into a plugin; so they are the
            // bytes this process (or an earlier one with the same engine
            // settings) produced with `Component::serialize`.
            match unsafe { Component::deserialize(engine, &*payload) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(entry = %self.entry_path(&key).display(), error = %format!("{e:#}"), "cached component failed to deserialize; recompiling");
                    self.remove(&key);
                }
            }
        }
        let component = Component::from_binary(engine, bytes)?;
        match component.serialize() {
            Ok(serialized) => {
                if let Err(e) = self.write(&key, component_sha256, &serialized) {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write compile cache entry; continuing without it");
                }
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot serialize compiled component; not cached");
            }
        }
        Ok((component, CacheOutcome::Miss))
    }

    /// The verified payload of an entry, or `None` if there is none or it is
    /// damaged (in which case it is removed).
    pub(crate) fn read(&self, key: &[u8; 32]) -> Option<Payload> {
        let path = self.entry_path(key);
        let data = match read_entry(&path) {
            Ok(data) => data,
            Err(e) if e.is_not_found() => return None,
            Err(e) => {
                tracing::warn!(entry = %path.display(), error = %e, "cannot read compile cache entry; recompiling");
                return None;
            }
        };
        match self.verify(&data, key) {
            // Not drained: moving a payload of tens of MB down by the header's
            // length costs more than the rest of a small load.
            Ok(_) => Some(Payload { entry: data }),
            Err(problem) => {
                tracing::warn!(entry = %path.display(), %problem, "unusable compile cache entry; removing it and recompiling");
                self.remove(key);
                None
            }
        }
    }

    /// Store a serialized component atomically: temp file, fsync, rename,
    /// directory fsync.
    pub(crate) fn write(
        &self,
        key: &[u8; 32],
        component_sha256: &[u8; 32],
        payload: &[u8],
    ) -> std::io::Result<()> {
        let checksum = blake3::hash(payload);
        crate::atomic_file::write_parts(
            &self.entry_path(key),
            &[MAGIC, key, component_sha256, checksum.as_bytes(), payload],
        )
    }

    /// Check an entry's header against the key it is stored under, the key
    /// its component digest gives under this engine, and its payload
    /// checksum. Returns the component digest.
    fn verify(&self, data: &[u8], key: &[u8; 32]) -> Result<[u8; 32], Problem> {
        let header = parse_header(data)?;
        if header.key != key {
            return Err(Problem::Damaged("stored under another name"));
        }
        if self.key(&header.component) != *key {
            return Err(Problem::OtherEngine);
        }
        if blake3::hash(header.payload) != *header.checksum {
            return Err(Problem::Damaged(
                "checksum mismatch (truncated or modified)",
            ));
        }
        Ok(header.component)
    }

    fn remove(&self, key: &[u8; 32]) {
        let path = self.entry_path(key);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(entry = %path.display(), error = %e, "cannot remove damaged compile cache entry");
        }
    }
}

/// Why an entry is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    OldFormat,
    OtherEngine,
    Damaged(&'static str),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OldFormat => f.write_str("an older entry format"),
            Self::OtherEngine => f.write_str("compiled by another engine"),
            Self::Damaged(what) => f.write_str(what),
        }
    }
}

/// The fields of an entry's header, borrowed from its bytes.
struct Header<'a> {
    key: &'a [u8],
    component: [u8; 32],
    checksum: &'a [u8],
    payload: &'a [u8],
}

fn parse_header(data: &[u8]) -> Result<Header<'_>, Problem> {
    if data.len() >= MAGIC.len() && data.starts_with(MAGIC_FAMILY) && !data.starts_with(MAGIC) {
        return Err(Problem::OldFormat);
    }
    if data.len() < HEADER_LEN {
        return Err(Problem::Damaged("shorter than its header"));
    }
    let (magic, rest) = data.split_at(MAGIC.len());
    let (key, rest) = rest.split_at(32);
    let (component, rest) = rest.split_at(32);
    let (checksum, payload) = rest.split_at(32);
    if magic != MAGIC {
        return Err(Problem::Damaged("not a compile cache entry"));
    }
    let mut digest = [0; 32];
    digest.copy_from_slice(component);
    Ok(Header {
        key,
        component: digest,
        checksum,
        payload,
    })
}

/// What `host cache show` reports about a cache directory.
#[derive(Debug, Clone)]
pub struct CacheListing {
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
    pub path: PathBuf,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

/// One compiled component in the cache.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    pub file: FoundFile,
    /// Lowercase hex sha256 of the component it was compiled from, if the
    /// header is readable.
    pub component_sha256: Option<String>,
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
    pub files: usize,
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
        let ours = item
            .file_name()
            .to_str()
            .is_some_and(|name| classify(name) != FileKind::Other);
        if !ours || !meta.file_type().is_file() {
            cleared.ignored.push(item.path());
            continue;
        }
        match std::fs::remove_file(item.path()) {
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
    FileKind::Other
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Feeds `Hash` output into sha256, so the engine's compatibility hash can be
/// part of a stable, collision-resistant key.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        // Only the sha256 state is used; `finish` exists to satisfy the trait.
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(&wasmtime::Config::new()).expect("engine")
    }

    fn cache() -> (tempfile::TempDir, CompileCache) {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CompileCache::open(&dir.path().join("cache"), &engine()).expect("open");
        (dir, cache)
    }

    /// The digest of a pretend component, and its key in `cache`.
    const COMPONENT: [u8; 32] = [7; 32];

    fn key(cache: &CompileCache) -> [u8; 32] {
        cache.key(&COMPONENT)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn miss_then_hit() {
        let (_d, cache) = cache();
        let key = key(&cache);
        assert_eq!(cache.read(&key).as_deref(), None);
        cache
            .write(&key, &COMPONENT, b"machine code")
            .expect("write");
        assert_eq!(cache.read(&key).as_deref(), Some(&b"machine code"[..]));
        // No temp files left behind.
        assert_eq!(
            names(&cache.dir),
            vec![format!("{}.cwasm", hex::encode(key))]
        );
    }

    fn damage(cache: &CompileCache, f: impl FnOnce(&mut Vec<u8>)) {
        let path = cache.entry_path(&key(cache));
        let mut data = std::fs::read(&path).expect("read");
        f(&mut data);
        std::fs::write(&path, data).expect("write");
    }

    #[test]
    fn truncated_entry_is_removed() {
        for cut in [HEADER_LEN + 3, HEADER_LEN, 10, 0] {
            let (_d, cache) = cache();
            let key = key(&cache);
            cache
                .write(&key, &COMPONENT, b"machine code")
                .expect("write");
            damage(&cache, |d| d.truncate(cut));
            assert_eq!(cache.read(&key).as_deref(), None, "cut at {cut}");
            assert!(
                !cache.entry_path(&key).exists(),
                "removed after cut at {cut}"
            );
        }
    }

    #[test]
    fn flipped_byte_is_removed() {
        let payload = b"machine code".to_vec();
        for at in [
            0,
            MAGIC.len() - 1,
            MAGIC.len(),
            MAGIC.len() + 32,
            MAGIC.len() + 64,
            HEADER_LEN,
            HEADER_LEN + payload.len() - 1,
        ] {
            let (_d, cache) = cache();
            let key = key(&cache);
            cache.write(&key, &COMPONENT, &payload).expect("write");
            damage(&cache, |d| d[at] ^= 0x01);
            assert_eq!(cache.read(&key).as_deref(), None, "flip at {at}");
            assert!(
                !cache.entry_path(&key).exists(),
                "removed after flip at {at}"
            );
        }
    }

    #[test]
    fn entry_renamed_to_another_key_is_refused() {
        let (_d, cache) = cache();
        let key = key(&cache);
        cache
            .write(&key, &COMPONENT, b"machine code")
            .expect("write");
        let other = [9; 32];
        std::fs::rename(cache.entry_path(&key), cache.entry_path(&other)).expect("rename");
        assert_eq!(cache.read(&other).as_deref(), None);
    }

    #[test]
    fn older_format_is_replaced_not_trusted() {
        let (_d, cache) = cache();
        let key = key(&cache);
        let mut v1 = b"HRNSCWv1".to_vec();
        v1.extend(key);
        v1.extend(Sha256::digest(b"machine code"));
        v1.extend(b"machine code");
        // v2: the same header as now, with a SHA-256 payload checksum.
        let mut v2 = b"HRNSCWv2".to_vec();
        v2.extend(key);
        v2.extend(COMPONENT);
        v2.extend(Sha256::digest(b"machine code"));
        v2.extend(b"machine code");
        for old in [v1, v2] {
            std::fs::write(cache.entry_path(&key), &old).expect("write");
            let listing = cache.inspect(&[]).expect("inspect");
            assert_eq!(listing.entries[0].status, EntryStatus::OldFormat);
            assert_eq!(cache.read(&key).as_deref(), None);
            assert!(!cache.entry_path(&key).exists());
        }
    }

    #[test]
    fn key_depends_on_component_and_engine() {
        let (_d, cache) = cache();
        assert_ne!(cache.key(&[1; 32]), cache.key(&[2; 32]));
        assert_eq!(cache.key(&[1; 32]), cache.key(&[1; 32]));
        let mut other = wasmtime::Config::new();
        other.cranelift_opt_level(wasmtime::OptLevel::None);
        let d2 = tempfile::tempdir().expect("tempdir");
        let cache2 =
            CompileCache::open(d2.path(), &Engine::new(&other).expect("engine")).expect("open");
        assert_ne!(cache.key(&[1; 32]), cache2.key(&[1; 32]));
    }

    #[test]
    fn garbage_payload_under_a_valid_header_is_not_trusted_by_load() {
        // A valid checksum over bytes that are not a serialized component:
        // deserialize rejects them, the entry is removed, and compiling the
        // (equally bogus) source fails cleanly instead of running anything.
        let (_d, cache) = cache();
        let engine = engine();
        let sha: [u8; 32] = Sha256::digest(b"not wasm").into();
        let key = cache.key(&sha);
        cache.write(&key, &sha, b"not machine code").expect("write");
        assert!(cache.load_or_compile(&engine, b"not wasm", &sha).is_err());
        assert!(!cache.entry_path(&key).exists());
    }

    /// The smallest component: the preamble alone.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

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
        foreign[MAGIC.len()..MAGIC.len() + 32].copy_from_slice(&foreign_key);
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
            (real.len() * 2 + HEADER_LEN + 4 + 4) as u64
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
        assert_eq!(cleared.bytes, (HEADER_LEN + 12 + 4) as u64);
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
