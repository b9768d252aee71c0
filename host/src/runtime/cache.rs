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
//! * Each entry is `magic ‖ key ‖ sha256(payload) ‖ payload`. The checksum is
//!   verified on the bytes in memory, and those same bytes are deserialized,
//!   so a truncated, corrupted, tampered or renamed entry is detected with no
//!   window between check and use. A bad entry is logged, removed and
//!   recompiled, never trusted.
//! * Entries are written to a temp file in the same directory, fsync'd and
//!   renamed into place, so a crash leaves either no entry or a whole one.
//! * The directory belongs to the host: grants refuse to mount it and
//!   manifests may not name a `.cwasm`, so no plugin can supply an entry.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Versioned tag mixed into every key; bump it when the entry format changes.
const KEY_TAG: &[u8] = b"harness-compile-cache-v1";
/// First bytes of every entry.
const MAGIC: &[u8; 8] = b"HRNSCWv1";
const HEADER_LEN: usize = MAGIC.len() + 32 + 32;
/// File extension of cache entries.
const EXTENSION: &str = "cwasm";

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
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir: dir.to_path_buf(),
            engine_hash: hasher.0.finalize().into(),
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
            // checked against the sha256 stored with them at write time, under
            // a key that covers the component's sha256 and this engine's
            // compatibility hash, and the entry lives in the host's own cache
            // directory, which is never mounted into a plugin; so they are the
            // bytes this process (or an earlier one with the same engine
            // settings) produced with `Component::serialize`.
            match unsafe { Component::deserialize(engine, &payload) } {
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
                if let Err(e) = self.write(&key, &serialized) {
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
    pub(crate) fn read(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        let path = self.entry_path(key);
        let mut data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(entry = %path.display(), error = %e, "cannot read compile cache entry; recompiling");
                return None;
            }
        };
        match verify(&data, key) {
            Ok(()) => {
                data.drain(..HEADER_LEN);
                Some(data)
            }
            Err(problem) => {
                tracing::warn!(entry = %path.display(), problem, "damaged compile cache entry; removing it and recompiling");
                self.remove(key);
                None
            }
        }
    }

    /// Store a serialized component atomically: temp file, fsync, rename,
    /// directory fsync.
    pub(crate) fn write(&self, key: &[u8; 32], payload: &[u8]) -> std::io::Result<()> {
        let checksum = Sha256::digest(payload);
        crate::atomic_file::write_parts(
            &self.entry_path(key),
            &[MAGIC, key, checksum.as_slice(), payload],
        )
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

/// Check an entry's header against the expected key and its payload checksum.
fn verify(data: &[u8], key: &[u8; 32]) -> Result<(), &'static str> {
    if data.len() < HEADER_LEN {
        return Err("shorter than its header");
    }
    let (magic, rest) = data.split_at(MAGIC.len());
    let (stored_key, rest) = rest.split_at(32);
    let (checksum, payload) = rest.split_at(32);
    if magic != MAGIC {
        return Err("not a cache entry of this format");
    }
    if stored_key != key {
        return Err("stored under another key");
    }
    if Sha256::digest(payload).as_slice() != checksum {
        return Err("checksum mismatch (truncated or modified)");
    }
    Ok(())
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

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn miss_then_hit() {
        let (_d, cache) = cache();
        assert_eq!(cache.read(&KEY), None);
        cache.write(&KEY, b"machine code").expect("write");
        assert_eq!(cache.read(&KEY).as_deref(), Some(&b"machine code"[..]));
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(&cache.dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(format!(
                "{}.cwasm",
                hex::encode(KEY)
            ))]
        );
    }

    fn damage(cache: &CompileCache, f: impl FnOnce(&mut Vec<u8>)) {
        let path = cache.entry_path(&KEY);
        let mut data = std::fs::read(&path).expect("read");
        f(&mut data);
        std::fs::write(&path, data).expect("write");
    }

    #[test]
    fn truncated_entry_is_removed() {
        for cut in [HEADER_LEN + 3, HEADER_LEN, 10, 0] {
            let (_d, cache) = cache();
            cache.write(&KEY, b"machine code").expect("write");
            damage(&cache, |d| d.truncate(cut));
            assert_eq!(cache.read(&KEY), None, "cut at {cut}");
            assert!(
                !cache.entry_path(&KEY).exists(),
                "removed after cut at {cut}"
            );
        }
    }

    #[test]
    fn flipped_byte_is_removed() {
        let payload = b"machine code".to_vec();
        for at in [
            0,
            MAGIC.len(),
            MAGIC.len() + 32,
            HEADER_LEN,
            HEADER_LEN + payload.len() - 1,
        ] {
            let (_d, cache) = cache();
            cache.write(&KEY, &payload).expect("write");
            damage(&cache, |d| d[at] ^= 0x01);
            assert_eq!(cache.read(&KEY), None, "flip at {at}");
            assert!(
                !cache.entry_path(&KEY).exists(),
                "removed after flip at {at}"
            );
        }
    }

    #[test]
    fn entry_renamed_to_another_key_is_refused() {
        let (_d, cache) = cache();
        cache.write(&KEY, b"machine code").expect("write");
        let other = [9; 32];
        std::fs::rename(cache.entry_path(&KEY), cache.entry_path(&other)).expect("rename");
        assert_eq!(cache.read(&other), None);
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
        cache.write(&key, b"not machine code").expect("write");
        assert!(cache.load_or_compile(&engine, b"not wasm", &sha).is_err());
        assert!(!cache.entry_path(&key).exists());
    }
}
