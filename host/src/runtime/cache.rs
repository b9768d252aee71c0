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
//! * Listing and clearing ([`listing`]: `host cache show|clear`) touch only regular files
//!   whose names the cache itself produces (`<64 hex>.cwasm` and the
//!   temporary files of an interrupted write); symlinks, directories and any
//!   other file are left alone, so a cache directory pointed at the wrong
//!   place cannot cost anyone their files.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

mod listing;

pub use self::listing::{CacheEntry, CacheListing, Cleared, EntryStatus, FoundFile, clear};

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
    pub(crate) const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";
}
