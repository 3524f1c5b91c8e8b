//! How a name becomes an avatar: its initials and a colour that is the same everywhere.

/// Up to two initials: the first letters of the first two words, or the first two letters
/// of a single word, upper-cased. Names without letters fall back to their first character.
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || matches!(c, '-' | '_' | '.' | '@'))
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .collect();
    let picked: String = match words.as_slice() {
        [] => name
            .chars()
            .find(|c| !c.is_whitespace())
            .into_iter()
            .collect(),
        [one] => one
            .chars()
            .filter(|c| c.is_alphanumeric())
            .take(2)
            .collect(),
        [first, second, ..] => [first, second]
            .iter()
            .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()))
            .collect(),
    };
    picked.to_uppercase()
}

/// A hue (0 to 359) derived from the name with FNV-1a, so every widget colours a user alike.
pub fn hue(name: &str) -> u32 {
    let mut hash: u32 = 0x811C_9DC5;
    for byte in name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % 360
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_two_words_or_two_letters() {
        assert_eq!(initials("alice"), "AL");
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("grace-brewster-hopper"), "GB");
        assert_eq!(initials("é"), "É");
        assert_eq!(initials("🦀"), "🦀");
        assert_eq!(initials("<img src=x onerror=alert(1)>"), "IS");
        assert_eq!(initials("שלום"), "של");
    }

    #[test]
    fn hue_is_stable_and_in_range() {
        assert_eq!(hue("alice"), hue("alice"));
        assert_ne!(hue("alice"), hue("bob"));
        for name in ["", "a", "🦀", "a very long name indeed"] {
            assert!(hue(name) < 360);
        }
    }
}
