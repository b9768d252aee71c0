//! Content digests. Everything the host binds to content (component pins, the
//! compile cache, staged writes, approvals, the journal chain) uses sha256 in
//! lowercase hex, computed here.

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lowercase hex sha256 of several byte strings, each length-prefixed so that
/// no two different lists can hash alike.
pub fn sha256_hex_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parts_are_unambiguous() {
        assert_ne!(
            sha256_hex_parts([b"ab".as_slice(), b"c"]),
            sha256_hex_parts([b"a".as_slice(), b"bc"])
        );
    }
}
