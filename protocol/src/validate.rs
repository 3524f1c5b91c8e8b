//! The rules a payload must satisfy before the server acts on it.
//!
//! Every type here can only be built through its validating constructor, so a value of
//! that type is proof that the rule held. Lengths are counted in Unicode scalar values
//! (characters), never in bytes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{ErrorCode, Refusal};

/// The largest integer a JavaScript number holds exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// The most characters a username may have once trimmed.
pub const USERNAME_MAX_CHARS: usize = 64;
/// The most characters a chat message may have.
pub const MESSAGE_MAX_CHARS: usize = 4_000;

/// A pull request number: an integer from 1 to [`MAX_SAFE_INTEGER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PullRequestId(u64);

impl PullRequestId {
    /// Accepts `id` when it is from 1 to [`MAX_SAFE_INTEGER`].
    ///
    /// Fails with [`ErrorCode::InvalidPullRequestId`] otherwise.
    pub fn new(id: u64) -> Result<Self, Refusal> {
        if (1..=MAX_SAFE_INTEGER).contains(&id) {
            Ok(Self(id))
        } else {
            Err(invalid_pull_request_id())
        }
    }

    /// Accepts a JSON value that is an integer in range. Strings, fractions, negative
    /// numbers and anything else are refused with [`ErrorCode::InvalidPullRequestId`].
    pub fn from_json(value: &Value) -> Result<Self, Refusal> {
        match value.as_u64() {
            Some(id) => Self::new(id),
            None => Err(invalid_pull_request_id()),
        }
    }

    /// Parses the decimal form used in URLs; fails as [`PullRequestId::new`] does.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        // `u64::from_str` takes a leading `+` and zeros; neither is a canonical id.
        let canonical = !text.starts_with('0') || text == "0";
        if text.is_empty() || !canonical || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_pull_request_id());
        }
        text.parse::<u64>()
            .map_err(|_| invalid_pull_request_id())
            .and_then(Self::new)
    }

    /// The number itself.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PullRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for PullRequestId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = u64::deserialize(deserializer)?;
        Self::new(id).map_err(serde::de::Error::custom)
    }
}

fn invalid_pull_request_id() -> Refusal {
    Refusal::new(
        ErrorCode::InvalidPullRequestId,
        format!("pullRequestId must be an integer from 1 to {MAX_SAFE_INTEGER}"),
    )
}

/// A username: trimmed, 1 to [`USERNAME_MAX_CHARS`] characters, with at least one visible
/// character and no control, direction, line-separator, tag or noncharacter code points.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Trims `raw` and accepts it when the rules hold.
    ///
    /// Fails with [`ErrorCode::InvalidUsername`] when the trimmed name is empty, longer
    /// than the limit, or holds a forbidden character.
    pub fn new(raw: &str) -> Result<Self, Refusal> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Refusal::new(
                ErrorCode::InvalidUsername,
                "username must not be empty",
            ));
        }
        if name.chars().count() > USERNAME_MAX_CHARS {
            return Err(Refusal::new(
                ErrorCode::InvalidUsername,
                format!("username must be at most {USERNAME_MAX_CHARS} characters"),
            ));
        }
        if name.chars().any(is_forbidden_in_name) {
            return Err(Refusal::new(
                ErrorCode::InvalidUsername,
                "username must not contain control or direction-override characters",
            ));
        }
        if name.chars().all(is_invisible) {
            return Err(Refusal::new(
                ErrorCode::InvalidUsername,
                "username must contain a visible character",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The validated name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::new(&raw).map_err(serde::de::Error::custom)
    }
}

/// Characters that would let one name disguise itself as another or break a layout.
///
/// Right-to-left letters are fine; the invisible controls that reorder text around
/// them are not, because they make `alice` and a spoof of it render alike.
fn is_forbidden_in_name(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200E}' | '\u{200F}'  // direction marks (Arabic letter, LTR, RTL)
            | '\u{202A}'..='\u{202E}'            // embeddings and overrides
            | '\u{2066}'..='\u{2069}'            // isolates
            | '\u{206A}'..='\u{206F}'            // deprecated shaping and digit controls
            | '\u{2028}' | '\u{2029}'            // line and paragraph separators
            | '\u{FEFF}'                         // zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}'            // interlinear annotation controls
            | '\u{E0000}'..='\u{E007F}')         // tag characters
        || is_noncharacter(c)
}

/// Unicode's noncharacters: U+FDD0 to U+FDEF and the last two code points of every plane.
fn is_noncharacter(c: char) -> bool {
    matches!(c, '\u{FDD0}'..='\u{FDEF}') || (u32::from(c) & 0xFFFE) == 0xFFFE
}

/// Characters that leave a message blank: the invisible ones, controls and the zero-width
/// no-break space.
fn is_blank_in_message(c: char) -> bool {
    is_invisible(c) || c.is_control() || c == '\u{FEFF}'
}

/// Characters that draw nothing, or only blank space: a name made of nothing else would
/// show as a blank avatar and an empty label.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '\u{00AD}'                           // soft hyphen
            | '\u{034F}'                         // combining grapheme joiner
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{17B4}' | '\u{17B5}'            // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}'            // Mongolian variation selectors and vowel separator
            | '\u{200B}'..='\u{200D}'            // zero-width space, non-joiner, joiner
            | '\u{2060}'..='\u{2064}'            // word joiner and invisible operators
            | '\u{2800}'                         // braille blank
            | '\u{FE00}'..='\u{FE0F}'            // variation selectors
            | '\u{E0100}'..='\u{E01EF}') // variation selectors supplement
}

/// A chat message: 1 to [`MESSAGE_MAX_CHARS`] characters, at least one of them visible.
///
/// The text is kept exactly as sent; clients render it as text, never as markup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MessageText(String);

impl MessageText {
    /// Accepts `text` when the rules hold.
    ///
    /// Fails with [`ErrorCode::MessageTooLong`] past the limit and with
    /// [`ErrorCode::InvalidMessage`] when empty or nothing in it would show (whitespace,
    /// zero-width and other invisible characters, controls).
    pub fn new(text: String) -> Result<Self, Refusal> {
        // Counting stops one past the limit, so a huge message costs no more than a long one.
        if text.chars().take(MESSAGE_MAX_CHARS + 1).count() > MESSAGE_MAX_CHARS {
            return Err(Refusal::new(
                ErrorCode::MessageTooLong,
                format!("message must be at most {MESSAGE_MAX_CHARS} characters"),
            ));
        }
        if text.chars().all(is_blank_in_message) {
            return Err(Refusal::new(
                ErrorCode::InvalidMessage,
                "message must contain a visible character",
            ));
        }
        Ok(Self(text))
    }

    /// The message as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The message as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for MessageText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::new(raw).map_err(serde::de::Error::custom)
    }
}

/// Reads the payload of a client event as a JSON object.
pub(crate) fn object(value: &Value) -> Result<&Map<String, Value>, Refusal> {
    value
        .as_object()
        .ok_or_else(|| Refusal::new(ErrorCode::InvalidPayload, "payload must be a JSON object"))
}

/// Reads a required field of a client payload.
pub(crate) fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a Value, Refusal> {
    map.get(name).ok_or_else(|| {
        Refusal::new(
            ErrorCode::InvalidPayload,
            format!("payload is missing `{name}`"),
        )
    })
}

/// Reads a required string field of a client payload.
pub(crate) fn string_field<'a>(
    map: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, Refusal> {
    field(map, name)?.as_str().ok_or_else(|| {
        Refusal::new(
            ErrorCode::InvalidPayload,
            format!("`{name}` must be a string"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_id_accepts_the_javascript_safe_range() {
        assert_eq!(PullRequestId::new(1).map(PullRequestId::get), Ok(1));
        assert!(PullRequestId::new(MAX_SAFE_INTEGER).is_ok());
        for bad in [0, MAX_SAFE_INTEGER + 1, u64::MAX] {
            let err = PullRequestId::new(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidPullRequestId);
        }
    }

    #[test]
    fn pull_request_id_from_json_refuses_non_integers() {
        let good = serde_json::json!(42);
        assert_eq!(
            PullRequestId::from_json(&good).map(PullRequestId::get),
            Ok(42)
        );
        for bad in [
            serde_json::json!("42"),
            serde_json::json!(4.5),
            serde_json::json!(-1),
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!([1]),
            serde_json::json!(9_007_199_254_740_992_u64),
        ] {
            let err = PullRequestId::from_json(&bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidPullRequestId, "{bad}");
        }
    }

    #[test]
    fn pull_request_id_parses_only_plain_decimal() {
        assert_eq!(PullRequestId::parse("123").map(PullRequestId::get), Ok(123));
        for bad in [
            "",
            "0",
            "+1",
            "-1",
            "1.0",
            "abc",
            " 1",
            "99999999999999999999",
        ] {
            assert!(PullRequestId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn username_is_trimmed_and_counted_in_characters() {
        assert_eq!(Username::new("  alice \t").unwrap().as_str(), "alice");

        // 64 four-byte characters: 256 bytes, but within the limit.
        let emoji = "🦀".repeat(USERNAME_MAX_CHARS);
        assert!(Username::new(&emoji).is_ok());
        let too_long = "🦀".repeat(USERNAME_MAX_CHARS + 1);
        assert_eq!(
            Username::new(&too_long).unwrap_err().code,
            ErrorCode::InvalidUsername
        );
    }

    #[test]
    fn username_keeps_hostile_looking_text_as_text() {
        for name in [
            "<script>alert(1)</script>",
            "שלום",
            "مرحبا",
            "O'Brien \"the\" 🚀",
        ] {
            assert_eq!(Username::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn username_refuses_blank_and_invisible_controls() {
        for bad in [
            "",
            "   ",
            "a\u{0}b",
            "a\nb",
            "a\u{7f}",
            "\u{202E}alice",
            "a\u{2066}b",
            "\u{061C}alice",
            "a\u{206A}b",
            "alice\u{E0041}",
            "alice\u{FFFE}",
            "alice\u{1FFFF}",
            "a\u{FDD0}",
        ] {
            assert_eq!(
                Username::new(bad).unwrap_err().code,
                ErrorCode::InvalidUsername,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn username_needs_a_visible_character() {
        for blank in [
            "\u{200B}",
            "\u{200C}\u{200D}",
            "\u{2060}",
            "\u{00AD}",
            "\u{3164}",
            "\u{115F}\u{1160}",
            "\u{2800}",
            "\u{180E}",
            "\u{034F}",
            "\u{FE0F}",
            "\u{200B} \u{3164}",
        ] {
            let refusal = Username::new(blank).unwrap_err();
            assert_eq!(refusal.code, ErrorCode::InvalidUsername, "{blank:?}");
            assert_eq!(refusal.message, "username must contain a visible character");
        }
        // Joiners and selectors inside a visible name are part of how it is written.
        for name in ["a\u{200D}b", "👩\u{200D}💻", "☺\u{FE0F}", "ㅤa", "\u{E000}"] {
            assert!(Username::new(name).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn message_limits_are_in_characters() {
        assert!(MessageText::new("é".repeat(MESSAGE_MAX_CHARS)).is_ok());
        let err = MessageText::new("é".repeat(MESSAGE_MAX_CHARS + 1)).unwrap_err();
        assert_eq!(err.code, ErrorCode::MessageTooLong);
        let err = MessageText::new("x".repeat(2_000_000)).unwrap_err();
        assert_eq!(err.code, ErrorCode::MessageTooLong);
    }

    #[test]
    fn message_must_hold_something_visible() {
        for bad in [
            "",
            " ",
            "\n\t ",
            "\u{3000}",
            "\u{200B}\u{200B}",
            "\u{0}\u{0}",
            "\u{FEFF}",
            "\u{2800} \u{3164}",
        ] {
            let err = MessageText::new(bad.to_owned()).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidMessage, "{bad:?}");
        }
        assert_eq!(
            MessageText::new(" hi \n".to_owned()).unwrap().as_str(),
            " hi \n"
        );
        // Invisible characters beside visible ones are kept as sent.
        assert!(MessageText::new("a\u{200B}b".to_owned()).is_ok());
        assert!(MessageText::new("\u{E000}".to_owned()).is_ok());
    }
}
