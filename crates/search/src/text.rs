//! String normalization shared by indexing and searching: lower case, accents removed, so that
//! "Müller" matches "muller".

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lower-cases `text` and removes diacritics (NFD, then combining marks dropped).
pub fn normalize(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn accents_and_case_fold() {
        assert_eq!(normalize("Müller"), "muller");
        assert_eq!(normalize("GARCÍA"), "garcia");
        assert_eq!(normalize("Nguyễn"), "nguyen");
        assert_eq!(normalize("Smith"), "smith");
    }
}
