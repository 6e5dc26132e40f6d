//! The content rules both sides enforce.
//!
//! Lengths count Unicode scalar values (what a person calls characters far
//! more often than bytes do), after trimming surrounding whitespace. Each
//! validator returns the trimmed text: that, not the raw input, is what gets
//! stored and shown.

use thiserror::Error;

use crate::ErrorCode;

/// Longest username, in characters, after trimming.
pub const USERNAME_MAX_CHARS: usize = 24;
/// Longest message, in characters, after trimming.
pub const MESSAGE_MAX_CHARS: usize = 2_000;
/// Longest client-chosen message id, in characters.
pub const CLIENT_ID_MAX_CHARS: usize = 64;
/// Longest room name, in characters, after trimming.
pub const ROOM_MAX_CHARS: usize = 32;
/// Most code points in one reaction: the longest emoji sequences (a family
/// with skin tones, a subdivision flag) have about ten.
pub const EMOJI_MAX_CHARS: usize = 16;
/// Longest reply excerpt, in characters, before its ellipsis.
pub const EXCERPT_MAX_CHARS: usize = 100;

/// Why a username was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum UsernameError {
    #[error("Choose a username.")]
    Empty,
    #[error("A username has at most {USERNAME_MAX_CHARS} characters.")]
    TooLong,
    #[error("A username cannot contain control or invisible formatting characters.")]
    ForbiddenCharacter,
    #[error("A username needs at least one visible character.")]
    NothingVisible,
}

/// Why a room name was refused. Every case has the same code
/// (`invalid_room`) and states the whole rule, so the person typing sees
/// what a name may be, not only what this one got wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RoomError {
    #[error("Choose a room name: 1 to {ROOM_MAX_CHARS} letters, digits, '-' or '_'.")]
    Empty,
    #[error("A room name has at most {ROOM_MAX_CHARS} characters: letters, digits, '-' or '_'.")]
    TooLong,
    #[error("A room name has only letters, digits, '-' and '_' (no spaces), 1 to {ROOM_MAX_CHARS} of them.")]
    ForbiddenCharacter,
    /// Letters of scripts that pass for each other (Latin with Cyrillic
    /// or Greek: `аdmin` with a Cyrillic `а` would pass for `admin`).
    #[error(
        "A room name does not mix Latin letters with Cyrillic or Greek ones: they look alike."
    )]
    MixedScripts,
}

/// Why a message text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error("A message cannot be empty.")]
    Empty,
    #[error("A message has at most {MESSAGE_MAX_CHARS} characters.")]
    TooLong,
    #[error("A message cannot contain control characters other than newline and tab.")]
    ForbiddenCharacter,
}

/// Why a reaction was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EmojiError {
    #[error("A reaction is one emoji.")]
    NotOneEmoji,
}

impl EmojiError {
    pub fn code(self) -> ErrorCode {
        ErrorCode::InvalidEmoji
    }
}

/// Why a `clientId` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ClientIdError {
    #[error("clientId must have 1 to {CLIENT_ID_MAX_CHARS} characters.")]
    Length,
    #[error("clientId cannot contain control characters.")]
    ForbiddenCharacter,
}

impl UsernameError {
    pub fn code(self) -> ErrorCode {
        match self {
            Self::Empty => ErrorCode::EmptyUsername,
            Self::TooLong => ErrorCode::UsernameTooLong,
            Self::ForbiddenCharacter | Self::NothingVisible => ErrorCode::InvalidUsername,
        }
    }
}

impl RoomError {
    pub fn code(self) -> ErrorCode {
        ErrorCode::InvalidRoom
    }
}

impl MessageError {
    pub fn code(self) -> ErrorCode {
        match self {
            Self::Empty => ErrorCode::EmptyMessage,
            Self::TooLong => ErrorCode::MessageTooLong,
            Self::ForbiddenCharacter => ErrorCode::InvalidMessage,
        }
    }
}

impl ClientIdError {
    pub fn code(self) -> ErrorCode {
        ErrorCode::InvalidClientId
    }
}

/// Characters that change how the text around them is displayed without
/// showing themselves: in a name they let one user pose as another
/// (`"\u{202E}ecila"` renders as "alice"). The zero-width joiner is not
/// among them: inside an emoji sequence it is part of what is drawn
/// (`canonical_username`, on the server, refuses it anywhere else).
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}' | '\u{200C}' // zero-width space and non-joiner
        | '\u{200E}' | '\u{200F}' // LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidirectional embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidirectional isolates
        | '\u{FEFF}' // byte order mark
    )
}

/// Trims `raw` and checks it as a username: 1 to [`USERNAME_MAX_CHARS`]
/// characters, no control or invisible formatting characters.
pub fn validate_username(raw: &str) -> Result<&str, UsernameError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(UsernameError::Empty);
    }
    if name.chars().count() > USERNAME_MAX_CHARS {
        return Err(UsernameError::TooLong);
    }
    if name
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(UsernameError::ForbiddenCharacter);
    }
    Ok(name)
}

/// Trims `raw` and checks it as a room name: 1 to [`ROOM_MAX_CHARS`]
/// Unicode letters and digits, `-` and `_`. Case is kept: rooms are
/// compared lower-cased (and, on the server, in NFC), see
/// `canonical_room`.
pub fn validate_room(raw: &str) -> Result<&str, RoomError> {
    validate_room_with(raw, char::is_alphanumeric)
}

/// [`validate_room`], with `is_alphanumeric` saying which characters are
/// letters or digits (Unicode's Alphabetic, or a general category N): the
/// web client asks the browser, whose tables it has for free, rather than
/// carry Rust's (2 KB of the client, BENCHMARKS.md). The rule is this one.
pub fn validate_room_with(
    raw: &str,
    is_alphanumeric: impl Fn(char) -> bool,
) -> Result<&str, RoomError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(RoomError::Empty);
    }
    if name.chars().count() > ROOM_MAX_CHARS {
        return Err(RoomError::TooLong);
    }
    // A letter or digit of any script (`闲聊`, `café`), `-` or `_`.
    if !name
        .chars()
        .all(|c| c == '-' || c == '_' || is_alphanumeric(c))
    {
        return Err(RoomError::ForbiddenCharacter);
    }
    Ok(name)
}

/// Trims `raw` and checks it as a message: 1 to [`MESSAGE_MAX_CHARS`]
/// characters; newlines and tabs are text, other control characters are not.
pub fn validate_message(raw: &str) -> Result<&str, MessageError> {
    let msg = raw.trim();
    if msg.is_empty() {
        return Err(MessageError::Empty);
    }
    if msg.chars().count() > MESSAGE_MAX_CHARS {
        return Err(MessageError::TooLong);
    }
    if msg
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(MessageError::ForbiddenCharacter);
    }
    Ok(msg)
}

/// Checks the shape of a reaction, as far as the web client can without
/// Unicode's emoji tables: a short run of code points, none of them
/// whitespace or control, not plain ASCII text. The server also checks
/// that it is exactly one emoji (see `canonical_emoji`).
pub fn validate_emoji(raw: &str) -> Result<&str, EmojiError> {
    let count = raw.chars().count();
    let plain_text = raw.is_ascii();
    let blank = raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if count == 0 || count > EMOJI_MAX_CHARS || plain_text || blank {
        return Err(EmojiError::NotOneEmoji);
    }
    Ok(raw)
}

/// How a reply quotes `text`: its first line, cut to
/// [`EXCERPT_MAX_CHARS`] characters, with an ellipsis when anything was
/// left out.
pub fn excerpt(text: &str) -> String {
    let first_line = text.trim().lines().next().unwrap_or_default().trim_end();
    let mut excerpt: String = first_line.chars().take(EXCERPT_MAX_CHARS).collect();
    if excerpt.len() < text.trim().len() {
        excerpt.push('…');
    }
    excerpt
}

/// Checks a client-chosen id: 1 to [`CLIENT_ID_MAX_CHARS`] characters, no
/// control characters. Not trimmed: it is an opaque token echoed back as is.
pub fn validate_client_id(raw: &str) -> Result<&str, ClientIdError> {
    let len = raw.chars().count();
    if len == 0 || len > CLIENT_ID_MAX_CHARS {
        return Err(ClientIdError::Length);
    }
    if raw.chars().any(char::is_control) {
        return Err(ClientIdError::ForbiddenCharacter);
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_is_trimmed_and_bounded() {
        assert_eq!(validate_username("  alice \t"), Ok("alice"));
        assert_eq!(validate_username("   "), Err(UsernameError::Empty));
        assert_eq!(validate_username(""), Err(UsernameError::Empty));
        let longest = "é".repeat(USERNAME_MAX_CHARS);
        assert_eq!(validate_username(&longest), Ok(longest.as_str()));
        let too_long = "é".repeat(USERNAME_MAX_CHARS + 1);
        assert_eq!(validate_username(&too_long), Err(UsernameError::TooLong));
    }

    #[test]
    fn username_refuses_control_and_spoofing_characters() {
        for bad in [
            "a\u{0}b",
            "a\nb",
            "\u{202E}ecila",
            "al\u{200B}ice",
            "a\u{2066}b",
        ] {
            assert_eq!(
                validate_username(bad),
                Err(UsernameError::ForbiddenCharacter),
                "{bad:?}"
            );
        }
        assert_eq!(validate_username("Zoë 🦀"), Ok("Zoë 🦀"));
        assert_eq!(
            validate_username("<img src=x onerror=1>"),
            Ok("<img src=x onerror=1>")
        );
    }

    #[test]
    fn message_keeps_inner_newlines_and_refuses_other_controls() {
        assert_eq!(
            validate_message("\n line one\nline two \n"),
            Ok("line one\nline two")
        );
        assert_eq!(validate_message(" \n\t "), Err(MessageError::Empty));
        assert_eq!(
            validate_message("a\u{0}b"),
            Err(MessageError::ForbiddenCharacter)
        );
        assert_eq!(
            validate_message("a\u{7}b"),
            Err(MessageError::ForbiddenCharacter)
        );
        let longest = "x".repeat(MESSAGE_MAX_CHARS);
        assert_eq!(validate_message(&longest), Ok(longest.as_str()));
        let too_long = "x".repeat(MESSAGE_MAX_CHARS + 1);
        assert_eq!(validate_message(&too_long), Err(MessageError::TooLong));
    }

    #[test]
    fn client_id_is_opaque_but_bounded() {
        assert_eq!(validate_client_id(" c 1 "), Ok(" c 1 "));
        assert_eq!(validate_client_id(""), Err(ClientIdError::Length));
        let too_long = "c".repeat(CLIENT_ID_MAX_CHARS + 1);
        assert_eq!(validate_client_id(&too_long), Err(ClientIdError::Length));
        assert_eq!(
            validate_client_id("c\n1"),
            Err(ClientIdError::ForbiddenCharacter)
        );
    }

    #[test]
    fn room_names_are_letters_digits_dashes_and_underscores() {
        for good in [
            "lobby",
            " Rust ",
            "闲聊",
            "café",
            "a-b_c",
            "x1",
            &"r".repeat(32),
        ] {
            assert_eq!(validate_room(good), Ok(good.trim()), "{good:?}");
        }
        assert_eq!(validate_room("  "), Err(RoomError::Empty));
        assert_eq!(validate_room(&"房".repeat(33)), Err(RoomError::TooLong));
        for bad in [
            "a b",
            "a\u{0}",
            "a\u{200B}b",
            "a/b",
            "#lobby",
            "a.b",
            "\u{202E}x",
        ] {
            assert_eq!(
                validate_room(bad),
                Err(RoomError::ForbiddenCharacter),
                "{bad:?}"
            );
        }
        assert_eq!(RoomError::TooLong.code(), ErrorCode::InvalidRoom);
    }

    #[test]
    fn a_reaction_is_a_short_run_of_non_text_code_points() {
        for good in ["👍", "❤️", "👩\u{200D}💻", "🇫🇷", "#️⃣"] {
            assert_eq!(validate_emoji(good), Ok(good), "{good:?}");
        }
        for bad in ["", "a", ":)", "👍 ", " 👍", "👍\n", &"👍".repeat(17)] {
            assert_eq!(validate_emoji(bad), Err(EmojiError::NotOneEmoji), "{bad:?}");
        }
    }

    #[test]
    fn an_excerpt_is_the_first_line_cut_short() {
        assert_eq!(excerpt("hello"), "hello");
        assert_eq!(excerpt("  first\nsecond"), "first…");
        assert_eq!(excerpt(&"é".repeat(150)), format!("{}…", "é".repeat(100)));
        assert_eq!(excerpt(""), "");
    }

    #[test]
    fn errors_map_to_stable_codes() {
        assert_eq!(UsernameError::Empty.code(), ErrorCode::EmptyUsername);
        assert_eq!(UsernameError::TooLong.code(), ErrorCode::UsernameTooLong);
        assert_eq!(
            MessageError::ForbiddenCharacter.code(),
            ErrorCode::InvalidMessage
        );
        assert_eq!(ClientIdError::Length.code(), ErrorCode::InvalidClientId);
    }
}
