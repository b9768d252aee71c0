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
//! * Each entry is `payload ‖ key ‖ sha256(component) ‖ blake3(payload) ‖
//!   payload length ‖ magic`: the payload (what `Component::serialize`
//!   wrote) comes first, so a warm load maps the file as it is
//!   (`Component::deserialize_file`) and copies nothing: machine code and
//!   the initial images of linear memories are used in place,
//!   copy-on-write. The trailer is checked on every load (a truncated,
//!   extended or renamed entry is caught there); the payload's checksum on
//!   the first load of the file, and again whenever the file's fingerprint
//!   changes ([`fingerprints`]: device, inode, size and times; entries are
//!   only ever replaced whole, by rename, never written in place). The
//!   file is mapped through the descriptor that was checked. (The checksum
//!   is not a signature: whoever can write this directory can write a
//!   valid entry, so the directory must be the host's alone.) A bad entry
//!   (or one in an older format) is logged, removed and recompiled, never
//!   trusted. The component's own digest is in the trailer so `host cache
//!   show` can say which plugin an entry belongs to. The payload's checksum
//!   is BLAKE3, not SHA-256: a Python component's entry is ~35 MB, and
//!   hashing it with SHA-256 (with the CPU's SHA extensions) took ~17 ms,
//!   BLAKE3 with AVX-512 a few ms; it is as collision-resistant. A cache
//!   directory whose files cannot be mapped as code (a `noexec` mount) still
//!   works: the entry is then read and copied.
//! * Components are hashed once too: the fingerprint table keeps the
//!   sha256 of each component file read, so a warm load of an unchanged
//!   component reads only its metadata.
//! * Entries are written to a temp file in the same directory, fsync'd and
//!   renamed into place, so a crash leaves either no entry or a whole one.
//! * The directory belongs to the host: grants refuse to mount it and
//!   manifests may not name a `.cwasm`, so no plugin can supply an entry.
//! * Listing and clearing ([`listing`]: `host cache show|clear`) touch only regular files
//!   whose names the cache itself produces (`<64 hex>.cwasm` and the
//!   temporary files of an interrupted write); symlinks, directories and any
//!   other file are left alone, so a cache directory pointed at the wrong
//!   place cannot cost anyone their files.

use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::bounded_read::{Opened, ReadError, Symlinks};

pub(crate) mod descriptors;
pub(crate) mod fingerprints;
mod listing;
mod table_file;

use self::fingerprints::{Fingerprint, Fingerprints, Kind};
pub use self::listing::{CacheEntry, CacheListing, Cleared, EntryStatus, FoundFile, clear};

/// Versioned tag mixed into every key; bump it when the key derivation
/// changes. (A new entry *format* bumps [`MAGIC`] instead: old entries then
/// keep their names, fail the magic check, and are replaced on first use.)
const KEY_TAG: &[u8] = b"harness-compile-cache-v1";
/// Last bytes of every entry, with the format version last.
const MAGIC: &[u8; 8] = b"HRNSCWv4";
/// What the entries of formats 1-3 start with (their header was in front),
/// so they are recognised as older entries.
const MAGIC_FAMILY: &[u8; 6] = b"HRNSCW";
/// `key ‖ sha256(component) ‖ blake3(payload) ‖ payload length (u64, LE) ‖
/// MAGIC`, after the payload.
const TRAILER_LEN: usize = 32 + 32 + 32 + 8 + MAGIC.len();
/// File extension of cache entries.
const EXTENSION: &str = "cwasm";

/// The largest entry read back: a precompiled component is a few times the
/// size of its component, which is at most
/// [`super::load::MAX_COMPONENT_BYTES`].
const MAX_ENTRY_BYTES: u64 = 4 * super::load::MAX_COMPONENT_BYTES;

/// Open an entry: a regular file (never a symlink), at most [`MAX_ENTRY_BYTES`].
fn open_entry_file(path: &Path) -> Result<Opened, ReadError> {
    crate::bounded_read::open_regular(
        path,
        MAX_ENTRY_BYTES,
        "compile cache entry",
        Symlinks::Refuse,
    )
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
    fingerprints: Arc<Fingerprints>,
}

/// An entry whose trailer matches the key it is stored under.
struct OpenEntry {
    opened: Opened,
    trailer: Trailer,
}

/// Why an entry that exists is not used.
#[derive(Debug, thiserror::Error)]
enum Unusable {
    #[error("{0}")]
    Problem(Problem),
    #[error("cannot read it: {0}")]
    Io(std::io::Error),
    #[error("it failed to deserialize: {0:#}")]
    Deserialize(wasmtime::Error),
}

impl CompileCache {
    /// Open (creating if needed) the cache directory for `engine`.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        create_private_dir(dir)?;
        Ok(Self::at(dir, engine))
    }

    /// This cache, sharing `fingerprints` (the table of its directory) with
    /// the caches of a runtime's other engines.
    pub(crate) fn sharing(self, fingerprints: Arc<Fingerprints>) -> Self {
        Self {
            fingerprints,
            ..self
        }
    }

    /// The cache of `engine` in `dir`, which may not exist (nothing is created).
    pub(crate) fn at(dir: &Path, engine: &Engine) -> Self {
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self {
            dir: dir.to_path_buf(),
            engine_hash: hasher.0.finalize().into(),
            fingerprints: Arc::new(Fingerprints::in_dir(dir)),
        }
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

    /// The sha256 of the opened component file, if it was hashed before and
    /// its fingerprint has not changed since (see [`fingerprints`]).
    pub(crate) fn known_sha256(&self, component: &Opened) -> Option<[u8; 32]> {
        self.fingerprints
            .digest(&Fingerprint::of(Kind::Component, component.metadata()))
    }

    /// Remember the sha256 of a component file with metadata `meta`, hashed
    /// from a read that began at `read_started`.
    pub(crate) fn learn_sha256(
        &self,
        meta: &std::fs::Metadata,
        sha256: [u8; 32],
        read_started: SystemTime,
    ) {
        self.fingerprints
            .learn(Fingerprint::of(Kind::Component, meta), sha256, read_started);
    }

    /// Deserialize the cached component or compile (and cache) it.
    #[cfg(test)]
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        component_sha256: &[u8; 32],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        if let Some(component) = self.load(engine, component_sha256) {
            return Ok((component, CacheOutcome::Hit));
        }
        Ok((
            self.compile(engine, bytes, component_sha256)?,
            CacheOutcome::Miss,
        ))
    }

    /// The cached component of this digest, if there is a usable entry. A
    /// damaged entry (or one in an older format) is logged and removed.
    ///
    /// The entry's file is mapped, not read: its machine code and its
    /// linear memories' initial images are used in place (copy-on-write), so
    /// a warm load copies nothing. Its checksum is verified on the first
    /// load of the file, and on later loads only if its fingerprint changed.
    pub(crate) fn load(&self, engine: &Engine, component_sha256: &[u8; 32]) -> Option<Component> {
        let key = self.key(component_sha256);
        let entry = match self.open_entry(&key) {
            Ok(Some(entry)) => entry,
            Ok(None) => return None,
            Err(problem) => {
                self.unusable(&key, &problem);
                return None;
            }
        };
        match Self::deserialize(engine, &entry, &self.fingerprints) {
            Ok(component) => Some(component),
            Err(problem) => {
                self.unusable(&key, &problem);
                None
            }
        }
    }

    fn unusable(&self, key: &[u8; 32], problem: &Unusable) {
        tracing::warn!(entry = %self.entry_path(key).display(), %problem, "unusable compile cache entry; removing it and recompiling");
        self.remove(key);
    }

    fn deserialize(
        engine: &Engine,
        entry: &OpenEntry,
        fingerprints: &Fingerprints,
    ) -> Result<Component, Unusable> {
        let fingerprint = Fingerprint::of(Kind::Entry, entry.opened.metadata());
        let mut payload = None;
        if fingerprints.digest(&fingerprint) != Some(entry.trailer.checksum) {
            let read_started = SystemTime::now();
            payload = Some(entry.payload()?);
            fingerprints.learn(fingerprint, entry.trailer.checksum, read_started);
        }
        // SAFETY: `Component::deserialize_file` and `Component::deserialize`
        // run machine code from the entry without validating it. The entry
        // was checked against the checksum stored with it at write time
        // (just now, or on an earlier load of this very file, whose
        // fingerprint has not changed since), under a key that covers the
        // component's sha256 and this engine's compatibility hash. It is
        // mapped through the descriptor that was checked, so it is the same
        // file, and it lives in the host's own cache directory, which is
        // never mounted into a plugin and whose entries are only ever
        // replaced whole (by rename), never written in place: so these are
        // the bytes this process (or an earlier one with the same engine
        // settings) produced with `Component::serialize`.
        let mapped = format!("/proc/self/fd/{}", entry.opened.file().as_raw_fd());
        match unsafe { Component::deserialize_file(engine, &mapped) } {
            Ok(component) => Ok(component),
            Err(e) => {
                // A cache directory on a `noexec` mount cannot be mapped as
                // code (nor can any file without /proc): copy it instead.
                tracing::debug!(error = %format!("{e:#}"), "cannot map the compile cache entry; reading it");
                let payload = match payload {
                    Some(payload) => payload,
                    None => entry.payload()?,
                };
                // SAFETY: as above; these bytes were just read and checked.
                unsafe { Component::deserialize(engine, &payload) }.map_err(Unusable::Deserialize)
            }
        }
    }

    /// Compile a component and store its entry (a failure to store is
    /// logged: the compiled component is still returned).
    pub(crate) fn compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        component_sha256: &[u8; 32],
    ) -> wasmtime::Result<Component> {
        let component = Component::from_binary(engine, bytes)?;
        match component.serialize() {
            Ok(serialized) => {
                if let Err(e) =
                    self.write(&self.key(component_sha256), component_sha256, &serialized)
                {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write compile cache entry; continuing without it");
                }
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot serialize compiled component; not cached");
            }
        }
        Ok(component)
    }

    /// The entry under `key`, opened and its trailer checked; `None` if
    /// there is none.
    fn open_entry(&self, key: &[u8; 32]) -> Result<Option<OpenEntry>, Unusable> {
        let opened = match open_entry_file(&self.entry_path(key)) {
            Ok(opened) => opened,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(ReadError::Io { source, .. }) => return Err(Unusable::Io(source)),
            Err(_) => {
                return Err(Unusable::Problem(Problem::Damaged(
                    "not a regular file of an entry's size",
                )));
            }
        };
        let size = opened.metadata().len();
        let mut front = [0; MAGIC_FAMILY.len()];
        let mut back = [0; TRAILER_LEN];
        let file = opened.file();
        let read = |buf: &mut [u8], at: u64| file.read_exact_at(buf, at);
        if size >= MAGIC_FAMILY.len() as u64 {
            read(&mut front, 0).map_err(Unusable::Io)?;
        }
        if size >= TRAILER_LEN as u64 {
            read(&mut back, size - TRAILER_LEN as u64).map_err(Unusable::Io)?;
        }
        let trailer = parse_trailer(&front, &back, size).map_err(Unusable::Problem)?;
        self.check(&trailer, key).map_err(Unusable::Problem)?;
        Ok(Some(OpenEntry { opened, trailer }))
    }

    /// The verified payload of an entry, or `None` if there is none or it is
    /// damaged (in which case it is removed).
    #[cfg(test)]
    pub(crate) fn read(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        let verified = self
            .open_entry(key)
            .and_then(|entry| entry.map(|e| e.payload()).transpose());
        match verified {
            Ok(payload) => payload,
            Err(problem) => {
                self.unusable(key, &problem);
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
        let len = (payload.len() as u64).to_le_bytes();
        crate::atomic_file::write_parts(
            &self.entry_path(key),
            &[
                payload,
                key,
                component_sha256,
                checksum.as_bytes(),
                &len,
                MAGIC,
            ],
        )
    }

    /// Check an entry's trailer against the key it is stored under and the
    /// key its component digest gives under this engine.
    fn check(&self, trailer: &Trailer, key: &[u8; 32]) -> Result<(), Problem> {
        if trailer.key != *key {
            return Err(Problem::Damaged("stored under another name"));
        }
        if self.key(&trailer.component) != *key {
            return Err(Problem::OtherEngine);
        }
        Ok(())
    }

    /// Check a whole entry read into memory: its trailer (as [`Self::check`])
    /// and its payload checksum. Returns the component digest.
    fn verify(&self, data: &[u8], key: &[u8; 32]) -> Result<[u8; 32], Problem> {
        let (trailer, payload) = parse_entry(data)?;
        self.check(&trailer, key)?;
        if *blake3::hash(payload).as_bytes() != trailer.checksum {
            return Err(Problem::Damaged(
                "checksum mismatch (truncated or modified)",
            ));
        }
        Ok(trailer.component)
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

impl OpenEntry {
    /// The payload, read and checked against the trailer's checksum.
    fn payload(&self) -> Result<Vec<u8>, Unusable> {
        let len = usize::try_from(self.trailer.payload_len)
            .map_err(|_| Unusable::Problem(Problem::Damaged("too large")))?;
        let mut payload = vec![0; len];
        self.opened
            .file()
            .read_exact_at(&mut payload, 0)
            .map_err(Unusable::Io)?;
        if *blake3::hash(&payload).as_bytes() != self.trailer.checksum {
            return Err(Unusable::Problem(Problem::Damaged(
                "checksum mismatch (truncated or modified)",
            )));
        }
        Ok(payload)
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

/// The fields of an entry's trailer.
struct Trailer {
    key: [u8; 32],
    component: [u8; 32],
    checksum: [u8; 32],
    payload_len: u64,
}

/// The trailer of an entry of `size` bytes, from its first bytes (`front`,
/// to recognise older formats) and its last [`TRAILER_LEN`] (`back`; unused
/// if the entry is shorter).
fn parse_trailer(front: &[u8], back: &[u8; TRAILER_LEN], size: u64) -> Result<Trailer, Problem> {
    if size >= MAGIC_FAMILY.len() as u64 && front.starts_with(MAGIC_FAMILY) {
        return Err(Problem::OldFormat);
    }
    if size < TRAILER_LEN as u64 {
        return Err(Problem::Damaged("shorter than its trailer"));
    }
    let field = |at: usize| {
        let mut out = [0; 32];
        out.copy_from_slice(&back[at..at + 32]);
        out
    };
    let mut len = [0; 8];
    len.copy_from_slice(&back[96..104]);
    if back[104..] != *MAGIC {
        return Err(Problem::Damaged("not a compile cache entry"));
    }
    let payload_len = u64::from_le_bytes(len);
    if payload_len != size - TRAILER_LEN as u64 {
        return Err(Problem::Damaged("truncated or extended"));
    }
    Ok(Trailer {
        key: field(0),
        component: field(32),
        checksum: field(64),
        payload_len,
    })
}

/// The trailer and payload of a whole entry in memory.
fn parse_entry(data: &[u8]) -> Result<(Trailer, &[u8]), Problem> {
    let mut back = [0; TRAILER_LEN];
    let payload_len = data.len().saturating_sub(TRAILER_LEN);
    if data.len() >= TRAILER_LEN {
        back.copy_from_slice(&data[payload_len..]);
    }
    let trailer = parse_trailer(data, &back, data.len() as u64)?;
    Ok((trailer, &data[..payload_len]))
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
pub(crate) mod tests {
    use super::*;

    pub(crate) fn engine() -> Engine {
        Engine::new(&wasmtime::Config::new()).expect("engine")
    }

    pub(crate) fn cache() -> (tempfile::TempDir, CompileCache) {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = CompileCache::open(&dir.path().join("cache"), &engine()).expect("open");
        (dir, cache)
    }

    /// The digest of a pretend component, and its key in `cache`.
    pub(crate) const COMPONENT: [u8; 32] = [7; 32];

    pub(crate) fn key(cache: &CompileCache) -> [u8; 32] {
        cache.key(&COMPONENT)
    }

    pub(crate) fn names(dir: &Path) -> Vec<String> {
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
        let whole = b"machine code".len() + TRAILER_LEN;
        for cut in [whole - 1, TRAILER_LEN + 3, TRAILER_LEN, 10, 0] {
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
        let len = payload.len();
        for at in [
            0,
            len - 1,
            len,
            len + 32,
            len + 64,
            len + 96,
            len + 104,
            len + TRAILER_LEN - 1,
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
        // v3: the header in front, with a BLAKE3 payload checksum.
        let mut v3 = b"HRNSCWv3".to_vec();
        v3.extend(key);
        v3.extend(COMPONENT);
        v3.extend(blake3::hash(b"machine code").as_bytes());
        v3.extend(b"machine code");
        for old in [v1, v2, v3] {
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
    pub(crate) const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";
}
