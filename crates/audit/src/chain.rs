//! The hash chain and the checkpoint signatures: the only definitions of what is hashed and
//! signed, shared by the writer and the verifier.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// A SHA-256 chain hash.
pub(crate) type Hash = [u8; 32];

/// The `prev` of record 1.
pub(crate) const GENESIS: Hash = [0; 32];

/// Separates ledger hashes from any other SHA-256 use of the same bytes.
const RECORD_TAG: &[u8] = b"medulla-audit-v2";

/// Separates checkpoint signatures from any other use of the key.
const CHECKPOINT_TAG: &[u8] = b"medulla-audit-checkpoint-v1";

/// `SHA-256("medulla-audit-v2" || prev || seq as u64 big-endian || stored bytes)`.
pub(crate) fn record_hash(prev: &[u8], seq: u64, event: &[u8]) -> Hash {
    Sha256::new()
        .chain_update(RECORD_TAG)
        .chain_update(prev)
        .chain_update(seq.to_be_bytes())
        .chain_update(event)
        .finalize()
        .into()
}

/// The signed bytes of a checkpoint: the tag, `seq` (u64 BE), the chain hash at `seq`, and
/// `signed_at` (unix ms, i64 BE).
fn checkpoint_message(seq: u64, hash: &Hash, signed_at: i64) -> Vec<u8> {
    let mut message = Vec::with_capacity(CHECKPOINT_TAG.len() + 8 + 32 + 8);
    message.extend_from_slice(CHECKPOINT_TAG);
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(hash);
    message.extend_from_slice(&signed_at.to_be_bytes());
    message
}

/// Signs a checkpoint.
pub(crate) fn sign_checkpoint(key: &SigningKey, seq: u64, hash: &Hash, signed_at: i64) -> [u8; 64] {
    key.sign(&checkpoint_message(seq, hash, signed_at))
        .to_bytes()
}

/// Whether `signature` is `key`'s signature of the checkpoint (strict Ed25519 verification).
pub(crate) fn is_checkpoint_signed(
    key: &VerifyingKey,
    seq: u64,
    hash: &[u8],
    signed_at: i64,
    signature: &[u8],
) -> bool {
    let (Ok(hash), Ok(signature)) = (<&Hash>::try_from(hash), <[u8; 64]>::try_from(signature))
    else {
        return false;
    };
    key.verify_strict(
        &checkpoint_message(seq, hash, signed_at),
        &Signature::from_bytes(&signature),
    )
    .is_ok()
}

/// Lowercase hex, for reports.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_hash_covers_prev_seq_and_bytes() {
        let base = record_hash(&GENESIS, 1, b"{}");
        assert_ne!(base, record_hash(&[1; 32], 1, b"{}"));
        assert_ne!(base, record_hash(&GENESIS, 2, b"{}"));
        assert_ne!(base, record_hash(&GENESIS, 1, b"{ }"));
        // Known answer, so that the format cannot drift without this test noticing.
        let mut expected = Sha256::new();
        expected.update(b"medulla-audit-v2");
        expected.update([0u8; 32]);
        expected.update([0, 0, 0, 0, 0, 0, 0, 1]);
        expected.update(b"{}");
        assert_eq!(base, <Hash>::from(expected.finalize()));
    }

    #[test]
    fn checkpoint_signatures_bind_every_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = key.verifying_key();
        let hash = [3; 32];
        let signature = sign_checkpoint(&key, 10, &hash, 1000);
        assert!(is_checkpoint_signed(&public, 10, &hash, 1000, &signature));
        assert!(!is_checkpoint_signed(&public, 11, &hash, 1000, &signature));
        assert!(!is_checkpoint_signed(
            &public, 10, &[4; 32], 1000, &signature
        ));
        assert!(!is_checkpoint_signed(&public, 10, &hash, 1001, &signature));
        assert!(!is_checkpoint_signed(
            &public,
            10,
            &hash,
            1000,
            &signature[..63]
        ));
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert!(!is_checkpoint_signed(&other, 10, &hash, 1000, &signature));
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(to_hex(&[0, 15, 255]), "000fff");
    }
}
