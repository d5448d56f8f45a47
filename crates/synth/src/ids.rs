//! Deterministic seeding and RFC 4122 version 4 identifiers.

use fastrand::Rng;

/// Mixes two values into a well-spread 64-bit seed (SplitMix64 finaliser).
pub(crate) fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random generator for patient `index` of the population seeded with `seed`.
pub(crate) fn patient_rng(seed: u64, index: u64) -> Rng {
    Rng::with_seed(mix(seed, index))
}

/// The random generator for the shared provider directory of `seed`.
pub(crate) fn directory_rng(seed: u64) -> Rng {
    Rng::with_seed(mix(seed ^ 0xD1EC_7042_5EED_0001, u64::MAX))
}

/// A version 4 UUID drawn from a seeded generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Uuid(u128);

impl Uuid {
    pub(crate) fn random(rng: &mut Rng) -> Self {
        let high = u128::from(rng.u64(..));
        let low = u128::from(rng.u64(..));
        let mut value = (high << 64) | low;
        // Version 4 in bits 76..80, RFC 4122 variant (0b10) in bits 62..64.
        value = (value & !(0xF << 76)) | (0x4 << 76);
        value = (value & !(0x3 << 62)) | (0x2 << 62);
        Uuid(value)
    }

    /// Appends the canonical lowercase 8-4-4-4-12 form.
    pub(crate) fn push_to(self, buf: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for index in 0..32u32 {
            if matches!(index, 8 | 12 | 16 | 20) {
                buf.push('-');
            }
            let nibble = (self.0 >> (124 - 4 * index)) & 0xF;
            buf.push(char::from(HEX[nibble as usize]));
        }
    }

    pub(crate) fn to_text(self) -> String {
        let mut text = String::with_capacity(36);
        self.push_to(&mut text);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_version_four_uuids() {
        let mut rng = Rng::with_seed(7);
        for _ in 0..100 {
            let text = Uuid::random(&mut rng).to_text();
            assert_eq!(text.len(), 36);
            let bytes = text.as_bytes();
            assert_eq!(bytes[14], b'4', "{text}");
            assert!(matches!(bytes[19], b'8' | b'9' | b'a' | b'b'), "{text}");
            assert_eq!(
                [bytes[8], bytes[13], bytes[18], bytes[23]],
                [b'-'; 4],
                "{text}"
            );
        }
    }

    #[test]
    fn mixing_separates_neighbouring_streams() {
        assert_ne!(mix(1, 0), mix(1, 1));
        assert_ne!(mix(0, 1), mix(1, 0));
        assert_eq!(mix(42, 9), mix(42, 9));
    }
}
