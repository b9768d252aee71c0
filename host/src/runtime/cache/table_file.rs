//! The file format of the cache directory's own tables ([`super::fingerprints`],
//! [`super::descriptors`]): `magic ‖ body ‖ blake3(magic ‖ body)`, written
//! atomically without an fsync and read back only whole.
//!
//! A table only saves work (a re-hash, a `describe()` call), so a table that
//! is missing, torn, too large, a symlink or of another format reads as
//! empty, and the next write replaces it.

use std::path::Path;

/// Bytes of the checksum at the end of every table.
pub(crate) const CHECKSUM_LEN: usize = 32;

/// `magic ‖ body ‖ checksum`.
pub(crate) fn seal(magic: &[u8; 8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(magic.len() + body.len() + CHECKSUM_LEN);
    out.extend_from_slice(magic);
    out.extend_from_slice(body);
    let checksum = blake3::hash(&out);
    out.extend_from_slice(checksum.as_bytes());
    out
}

/// The body of a sealed table, if `data` is one with this magic.
pub(crate) fn unseal<'a>(magic: &[u8; 8], data: &'a [u8]) -> Option<&'a [u8]> {
    let body_len = data.len().checked_sub(CHECKSUM_LEN)?;
    let (sealed, checksum) = data.split_at(body_len);
    let body = sealed.strip_prefix(magic.as_slice())?;
    (blake3::hash(sealed).as_bytes() == checksum).then_some(body)
}

/// The body of the table at `path` (at most `max_body` bytes), if it is a
/// whole one with this magic.
pub(crate) fn read(
    path: &Path,
    magic: &[u8; 8],
    max_body: usize,
    what: &'static str,
) -> Option<Vec<u8>> {
    let data = crate::bounded_read::read_regular(
        path,
        (magic.len() + max_body + CHECKSUM_LEN) as u64,
        what,
        crate::bounded_read::Symlinks::Refuse,
    )
    .ok()?;
    // Checked, then cut down to the body in place: no second copy.
    let body_len = unseal(magic, &data)?.len();
    let mut body = data;
    body.truncate(magic.len() + body_len);
    body.drain(..magic.len());
    Some(body)
}

/// Replace the table at `path` with `body`, sealed; a failure is logged
/// (`what` names the table) and costs the work the table would have saved.
pub(crate) fn write(path: &Path, magic: &[u8; 8], body: &[u8], what: &str) {
    if let Err(error) = crate::atomic_file::write_unsynced(path, &seal(magic, body)) {
        tracing::debug!(path = %path.display(), %error, "cannot write the compile cache's {what}; the work it saves is done again next time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_whole_table_with_its_magic_unseals() {
        let sealed = seal(b"HRNSTSv1", b"body");
        assert_eq!(unseal(b"HRNSTSv1", &sealed), Some(b"body".as_slice()));
        assert_eq!(unseal(b"HRNSTSv2", &sealed), None, "another format");
        assert_eq!(unseal(b"HRNSTSv1", &sealed[..sealed.len() - 1]), None);
        let mut flipped = sealed.clone();
        flipped[9] ^= 1;
        assert_eq!(unseal(b"HRNSTSv1", &flipped), None);
        assert_eq!(unseal(b"HRNSTSv1", b""), None);
        assert_eq!(
            unseal(b"HRNSTSv1", &seal(b"HRNSTSv1", b"")),
            Some(b"".as_slice())
        );
    }

    #[test]
    fn read_refuses_a_symlink_and_an_oversized_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("table");
        write(&path, b"HRNSTSv1", b"0123456789", "test table");
        assert_eq!(
            read(&path, b"HRNSTSv1", 10, "test table").as_deref(),
            Some(b"0123456789".as_slice())
        );
        assert_eq!(read(&path, b"HRNSTSv1", 9, "test table"), None, "too large");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        assert_eq!(read(&link, b"HRNSTSv1", 10, "test table"), None);
        assert_eq!(
            read(&dir.path().join("missing"), b"HRNSTSv1", 10, "t"),
            None
        );
    }
}
