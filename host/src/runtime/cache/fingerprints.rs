//! Fingerprints: the digests of files the host has already read and hashed,
//! so that a warm load neither reads nor hashes them again.
//!
//! A warm `host run` used to read each plugin's component to take its
//! sha256 (the cache key), then read each cache entry to check its BLAKE3
//! checksum: about 4 MB read, copied and hashed for the default pipeline,
//! a third of its CPU time. A file whose *fingerprint* (device, inode, size,
//! modification and change times, all from `fstat`) is unchanged since it
//! was hashed has the same bytes, with one caveat that git calls "racy":
//! file times are coarse (a clock tick, or a whole second on some
//! filesystems), so a file changed in the same tick as it was hashed keeps
//! its times. A fingerprint is therefore learned only when the file's times
//! are well before the moment the read began ([`Fingerprint::settled`]):
//! any change after that moment gets later times, hence another
//! fingerprint. The change time cannot be set by anyone but the kernel (only
//! moving the system clock back, which takes root, could forge one).
//!
//! What is known: for a component, its sha256; for a cache entry, the BLAKE3
//! checksum of its payload (checked against the one the entry carries). The
//! table lives in the cache directory (`fingerprints`), which belongs to the
//! host alone and is never mounted into a plugin. It is written atomically
//! but not fsync'd: it carries its own checksum, and a table that is
//! missing, torn or in another format is ignored, which costs a re-hash and
//! nothing else. Two processes learning at once may each drop the other's
//! news; it is learned again on the next load.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// File name of the table in the cache directory.
pub(crate) const FILE_NAME: &str = "fingerprints";
/// First bytes of the table, with the format version last.
const MAGIC: &[u8; 8] = b"HRNSFPv1";
const RECORD_LEN: usize = 8 * 6 + 32;
/// Records kept; the oldest learned go first (each rebuild of a plugin
/// leaves one stale record for its old inode).
const MAX_RECORDS: usize = 2048;
/// How far before the read a file's times must be on a filesystem with
/// sub-second times (many clock ticks), and on one with whole seconds.
const FINE_MARGIN: Duration = Duration::from_millis(100);
const COARSE_MARGIN: Duration = Duration::from_secs(2);

/// What a fingerprint's digest is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A component: the sha256 of the whole file.
    Component = 1,
    /// A compile cache entry: the BLAKE3 checksum of its payload.
    Entry = 2,
}

/// What `fstat` says of a file, enough to tell that its bytes changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    kind: u64,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Fingerprint {
    /// The fingerprint of an open file, from its metadata.
    pub(crate) fn of(kind: Kind, meta: &Metadata) -> Self {
        let ns = |secs: i64, nsecs: i64| secs.saturating_mul(1_000_000_000).saturating_add(nsecs);
        Self {
            kind: kind as u64,
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether any change to the file after `read_started` is sure to give
    /// it another fingerprint: its times are earlier than that by more than
    /// the filesystem's time granularity (whole seconds when both times have
    /// no nanoseconds, else far less than [`FINE_MARGIN`]).
    pub(crate) fn settled(&self, read_started: SystemTime) -> bool {
        let coarse = self.mtime_ns % 1_000_000_000 == 0 && self.ctime_ns % 1_000_000_000 == 0;
        let margin = if coarse { COARSE_MARGIN } else { FINE_MARGIN };
        let Some(limit) = read_started
            .checked_sub(margin)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_nanos()).ok())
        else {
            return false;
        };
        self.mtime_ns.max(self.ctime_ns) < limit
    }

    fn to_bytes(self, digest: &[u8; 32]) -> [u8; RECORD_LEN] {
        let mut out = [0; RECORD_LEN];
        let fields = [
            self.kind,
            self.dev,
            self.ino,
            self.size,
            self.mtime_ns as u64,
            self.ctime_ns as u64,
        ];
        for (slot, field) in out.chunks_exact_mut(8).zip(fields) {
            slot.copy_from_slice(&field.to_le_bytes());
        }
        out[8 * 6..].copy_from_slice(digest);
        out
    }

    fn from_bytes(record: &[u8]) -> Option<(Self, [u8; 32])> {
        let field = |i: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(record.get(i * 8..i * 8 + 8)?);
            Some(u64::from_le_bytes(b))
        };
        let mut digest = [0; 32];
        digest.copy_from_slice(record.get(8 * 6..RECORD_LEN)?);
        Some((
            Self {
                kind: field(0)?,
                dev: field(1)?,
                ino: field(2)?,
                size: field(3)?,
                mtime_ns: field(4)? as i64,
                ctime_ns: field(5)? as i64,
            },
            digest,
        ))
    }
}

/// A file's fingerprint and the digest learned for it.
type Record = (Fingerprint, [u8; 32]);

/// The table of one cache directory, read on first use.
#[derive(Debug)]
pub(crate) struct Fingerprints {
    path: PathBuf,
    max_records: usize,
    /// `None` until read; then the records, oldest learned first.
    known: Mutex<Option<Vec<Record>>>,
}

impl Fingerprints {
    /// The table of the cache directory `dir` (nothing is read yet).
    pub(crate) fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join(FILE_NAME),
            max_records: MAX_RECORDS,
            known: Mutex::new(None),
        }
    }

    /// The digest learned for a file with this fingerprint, if any.
    pub(crate) fn digest(&self, fingerprint: &Fingerprint) -> Option<[u8; 32]> {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let records = known.get_or_insert_with(|| read_table(&self.path));
        records
            .iter()
            .rev()
            .find(|(f, _)| f == fingerprint)
            .map(|(_, digest)| *digest)
    }

    /// Remember `digest` for the file with `fingerprint`, hashed from a read
    /// that began at `read_started`: only if the fingerprint is
    /// [`Fingerprint::settled`]. The table is rewritten when it changed; a
    /// write that fails is logged and costs a re-hash next time.
    pub(crate) fn learn(
        &self,
        fingerprint: Fingerprint,
        digest: [u8; 32],
        read_started: SystemTime,
    ) {
        if !fingerprint.settled(read_started) {
            return;
        }
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let records = known.get_or_insert_with(|| read_table(&self.path));
        if records.contains(&(fingerprint, digest)) {
            return;
        }
        // One record per file: the inode's older fingerprints go.
        records.retain(|(f, _)| {
            (f.kind, f.dev, f.ino) != (fingerprint.kind, fingerprint.dev, fingerprint.ino)
        });
        records.push((fingerprint, digest));
        let excess = records.len().saturating_sub(self.max_records);
        records.drain(..excess);
        super::table_file::write(&self.path, MAGIC, &encode(records), "fingerprints");
    }
}

fn encode(records: &[Record]) -> Vec<u8> {
    let mut body = Vec::with_capacity(records.len() * RECORD_LEN);
    for (fingerprint, digest) in records {
        body.extend_from_slice(&fingerprint.to_bytes(digest));
    }
    body
}

/// The records of the table at `path`; none if it is missing, torn, damaged
/// or of another format (it is then rewritten on the next learn).
fn read_table(path: &Path) -> Vec<Record> {
    super::table_file::read(
        path,
        MAGIC,
        MAX_RECORDS * RECORD_LEN,
        "compile cache fingerprints",
    )
    .and_then(|body| decode(&body))
    .unwrap_or_default()
}

fn decode(records: &[u8]) -> Option<Vec<Record>> {
    if !records.len().is_multiple_of(RECORD_LEN) {
        return None;
    }
    records
        .chunks_exact(RECORD_LEN)
        .map(Fingerprint::from_bytes)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint_of(path: &Path) -> Fingerprint {
        Fingerprint::of(Kind::Component, &std::fs::metadata(path).expect("stat"))
    }

    #[test]
    fn a_settled_file_is_known_until_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.wasm");
        std::fs::write(&file, b"one").expect("write");
        let table = Fingerprints::in_dir(dir.path());
        let fp = fingerprint_of(&file);
        // Hashed as if the read began well after the file's last change.
        let later = SystemTime::now() + Duration::from_secs(5);
        table.learn(fp, [1; 32], later);
        assert_eq!(table.digest(&fp), Some([1; 32]));
        // A second process reads the same table from disk.
        assert_eq!(Fingerprints::in_dir(dir.path()).digest(&fp), Some([1; 32]));
        // Any change gives another fingerprint: same size, new content.
        std::fs::write(&file, b"two").expect("write");
        let changed = fingerprint_of(&file);
        assert_ne!(changed, fp);
        assert_eq!(table.digest(&changed), None);
        // The other kind of digest for the same file is another record.
        let as_entry = Fingerprint {
            kind: Kind::Entry as u64,
            ..fp
        };
        assert_eq!(table.digest(&as_entry), None);
    }

    #[test]
    fn a_file_changed_just_before_the_read_is_not_learned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.wasm");
        std::fs::write(&file, b"fresh").expect("write");
        let table = Fingerprints::in_dir(dir.path());
        let fp = fingerprint_of(&file);
        table.learn(fp, [2; 32], SystemTime::now());
        assert_eq!(table.digest(&fp), None);
        assert!(!dir.path().join(FILE_NAME).exists(), "nothing written");
        // Whole-second times need a whole-second margin.
        let coarse = Fingerprint {
            mtime_ns: 1_000_000_000,
            ctime_ns: 1_000_000_000,
            ..fp
        };
        let start = UNIX_EPOCH + Duration::from_millis(2_500);
        assert!(!coarse.settled(start));
        assert!(coarse.settled(start + Duration::from_millis(600)));
    }

    #[test]
    fn a_damaged_table_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.wasm");
        std::fs::write(&file, b"x").expect("write");
        let fp = fingerprint_of(&file);
        let later = SystemTime::now() + Duration::from_secs(5);
        Fingerprints::in_dir(dir.path()).learn(fp, [3; 32], later);
        let path = dir.path().join(FILE_NAME);
        let good = std::fs::read(&path).expect("read");
        for damaged in [
            good[..good.len() - 1].to_vec(),
            {
                let mut d = good.clone();
                d[MAGIC.len() + 20] ^= 1;
                d
            },
            b"HRNSFPv0".to_vec(),
            Vec::new(),
        ] {
            std::fs::write(&path, &damaged).expect("write");
            let table = Fingerprints::in_dir(dir.path());
            assert_eq!(table.digest(&fp), None);
            table.learn(fp, [3; 32], later);
            assert_eq!(std::fs::read(&path).expect("read"), good);
        }
    }

    #[test]
    fn the_table_keeps_one_record_per_file_and_a_bounded_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = Fingerprints {
            max_records: 16,
            ..Fingerprints::in_dir(dir.path())
        };
        let later = SystemTime::now() + Duration::from_secs(3600);
        let fp = |ino: u64, size: u64| Fingerprint {
            kind: Kind::Component as u64,
            dev: 1,
            ino,
            size,
            mtime_ns: 1_000_000_001,
            ctime_ns: 1_000_000_001,
        };
        table.learn(fp(1, 10), [1; 32], later);
        table.learn(fp(1, 11), [2; 32], later);
        assert_eq!(
            table.digest(&fp(1, 10)),
            None,
            "the inode's old record went"
        );
        assert_eq!(table.digest(&fp(1, 11)), Some([2; 32]));
        for ino in 2..26 {
            table.learn(fp(ino, 1), [4; 32], later);
        }
        assert_eq!(table.digest(&fp(1, 11)), None, "the oldest learned went");
        let size = std::fs::metadata(dir.path().join(FILE_NAME))
            .expect("stat")
            .len();
        assert_eq!(
            size as usize,
            MAGIC.len() + 16 * RECORD_LEN + super::super::table_file::CHECKSUM_LEN
        );
    }
}
