//! The whole username rule, with Unicode's tables: what the server binds.
//!
//! [`validate_username`](crate::validate_username) is the part both sides
//! check (length, control and formatting characters); this is the rest,
//! behind the `unicode` feature because its tables would cost the web
//! client more than all its other code on names (the login page shows the
//! server's refusal instead). It decides which names look like another
//! name or like nothing:
//!
//! - names are compared, stored and shown in NFC, so `Zoë` typed with a
//!   combining diaeresis is the same user as `Zoë` typed precomposed;
//! - default-ignorable code points (soft hyphen, variation selectors, tags,
//!   Hangul fillers, the combining grapheme joiner, ...) render as nothing,
//!   so `bo\u{AD}b` would pass for `bob`: refused, except the zero-width
//!   joiner and emoji presentation selector inside an emoji sequence
//!   (`👩‍💻`, `❤️`), where they are part of what is drawn;
//! - a name needs one visible character: not only spaces, marks or blank
//!   symbols (`⠀`, the Braille blank, draws nothing).

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{
    DefaultIgnorableCodePoint, ExtendedPictographic, GeneralCategory, GeneralCategoryGroup,
    WhiteSpace,
};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

use crate::{validate_room, validate_username, EmojiError, RoomError, UsernameError, MENTIONS_MAX};

const ZERO_WIDTH_JOINER: char = '\u{200D}';
const EMOJI_PRESENTATION: char = '\u{FE0F}';
const BRAILLE_BLANK: char = '\u{2800}';

/// The name `validated` (a [`validate_username`](crate::validate_username)
/// result) is bound and compared as: its NFC form, if it has no invisible
/// character and at least one visible one.
pub fn canonical_username(validated: &str) -> Result<String, UsernameError> {
    let name = ComposingNormalizerBorrowed::new_nfc()
        .normalize(validated)
        .into_owned();
    let chars: Vec<char> = name.chars().collect();
    for (at, &c) in chars.iter().enumerate() {
        if is_default_ignorable(c) && !joins_emoji(&chars, at) {
            return Err(UsernameError::ForbiddenCharacter);
        }
    }
    if !chars.iter().copied().any(is_visible) {
        return Err(UsernameError::NothingVisible);
    }
    Ok(name)
}

/// The key a name (a [`canonical_username`]) is compared by, for who is
/// online, for claimed names and for moderation: two names that look the
/// same have one key. Compatibility forms folded (NFKC: `ａｌｉｃｅ` is
/// `alice`), lower case, then Unicode's confusable skeleton (UTS #39:
/// Cyrillic `а` looks like Latin `a`, `0` like `O`). Lower case comes
/// first, so `ALICE` is `alice`; the price is that a capital `I` posing as
/// an `l` (`aIice`) is not caught (its skeleton is `l`, which would make
/// `ALICE` into `allce`). Never shown: a skeleton is nobody's spelling.
pub fn name_key(canonical: &str) -> String {
    let folded = ComposingNormalizerBorrowed::new_nfkc()
        .normalize(canonical)
        .to_lowercase();
    unicode_security::skeleton(&folded).collect()
}

/// The room `raw` names, as the server keys, stores and shows it: trimmed,
/// checked against the rule of [`validate_room`] in NFC (so a letter typed
/// with a combining accent counts as the letter it composes), then
/// lower-cased: `Rust`, `rust` and `RUST` are one room.
///
/// Like a name, a room name is refused when it holds a character that
/// renders as nothing (`ㅤ`, the Hangul filler, is a letter: once, a room)
/// or mixes scripts that pass for each other (UTS #39's restriction
/// levels: Latin with Han, Kana or Hangul is fine, Latin with Cyrillic or
/// Greek is not). A whole name in one look-alike script (`аdmіn` all in
/// Cyrillic) is a room of its own: rooms are not keyed by skeleton, so
/// that their names stay as typed (see README, "Limits").
pub fn canonical_room(raw: &str) -> Result<String, RoomError> {
    let nfc = ComposingNormalizerBorrowed::new_nfc();
    let composed = nfc.normalize(raw.trim());
    let checked = validate_room(&composed)?;
    if checked.chars().any(is_default_ignorable) {
        return Err(RoomError::ForbiddenCharacter);
    }
    if checked.detect_restriction_level() == RestrictionLevel::MinimallyRestrictive {
        return Err(RoomError::MixedScripts);
    }
    // Lower-casing can decompose (`İ` becomes `i` and a combining dot):
    // composed again, so the key is one form.
    Ok(nfc.normalize(&checked.to_lowercase()).into_owned())
}

/// The one emoji `raw` is, fully qualified (`❤` and `❤️` are one
/// reaction), from Unicode's list of emoji (the `emojis` crate): anything
/// else, two emoji included, is refused.
pub fn canonical_emoji(raw: &str) -> Result<&'static str, EmojiError> {
    emojis::get(raw)
        .map(emojis::Emoji::as_str)
        .ok_or(EmojiError::NotOneEmoji)
}

/// The names `text` mentions: each `@name` (an `@` at the start of a word,
/// then the name up to the next space, less trailing punctuation) whose
/// name passes the username rule, as its key (NFC, lower case: how names
/// are compared), once each, at most [`MENTIONS_MAX`].
pub fn mentions(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut previous = None;
    for (at, c) in text.char_indices() {
        let starts_word = !previous.is_some_and(char::is_alphanumeric);
        previous = Some(c);
        if c != '@' || !starts_word {
            continue;
        }
        let rest = &text[at + 1..];
        let word = &rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())];
        let name =
            word.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '_' && c != '-');
        if name.starts_with('@') {
            continue;
        }
        let Some(key) = validate_username(name)
            .ok()
            .and_then(|name| canonical_username(name).ok())
            .map(|name| name.to_lowercase())
        else {
            continue;
        };
        if !found.contains(&key) {
            found.push(key);
            if found.len() == MENTIONS_MAX {
                break;
            }
        }
    }
    found
}

fn is_default_ignorable(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

fn is_pictographic(c: char) -> bool {
    CodePointSetData::new::<ExtendedPictographic>().contains(c)
}

/// Whether the ignorable at `at` belongs to an emoji sequence: a
/// presentation selector right after a pictograph, or a joiner between a
/// pictograph (perhaps with its selector or skin tone) and another.
fn joins_emoji(chars: &[char], at: usize) -> bool {
    let before = chars[..at]
        .iter()
        .rev()
        .copied()
        .find(|&c| c != EMOJI_PRESENTATION && !is_skin_tone(c));
    let after = chars.get(at + 1).copied();
    match chars[at] {
        EMOJI_PRESENTATION => chars[..at].last().copied().is_some_and(is_pictographic),
        ZERO_WIDTH_JOINER => {
            before.is_some_and(is_pictographic) && after.is_some_and(is_pictographic)
        }
        _ => false,
    }
}

fn is_skin_tone(c: char) -> bool {
    ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

/// Whether `c` draws something by itself.
fn is_visible(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    !(CodePointSetData::new::<WhiteSpace>().contains(c)
        || is_default_ignorable(c)
        || GeneralCategoryGroup::Mark.contains(category)
        || c == BRAILLE_BLANK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_that_pass_for_another_or_for_nothing_are_refused() {
        assert_eq!(
            canonical_room("\u{3164}"),
            Err(RoomError::ForbiddenCharacter)
        );
        assert_eq!(
            canonical_room("a\u{AD}b"),
            Err(RoomError::ForbiddenCharacter)
        );
        // A Cyrillic а among Latin letters.
        assert_eq!(canonical_room("\u{430}dmin"), Err(RoomError::MixedScripts));
        assert_eq!(canonical_room("\u{3b1}lpha"), Err(RoomError::MixedScripts));
        for fine in [
            "rust_中文-1",
            "café",
            "闲聊",
            "日本語とlatin",
            "한국어-chat",
            "москва",
            "x9_-",
        ] {
            assert!(canonical_room(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn rooms_are_keyed_lowercase_in_nfc() {
        assert_eq!(canonical_room(" Rust ").as_deref(), Ok("rust"));
        assert_eq!(canonical_room("RUST"), canonical_room("rust"));
        assert_eq!(canonical_room("闲聊").as_deref(), Ok("闲聊"));
        // `e` and a combining acute compose to `é`, a letter.
        assert_eq!(canonical_room("Cafe\u{301}").as_deref(), Ok("café"));
        assert_eq!(canonical_room("İstanbul").as_deref(), Ok("i\u{307}stanbul"));
        assert_eq!(canonical_room("a b"), Err(RoomError::ForbiddenCharacter));
        assert_eq!(canonical_room(""), Err(RoomError::Empty));
    }

    #[test]
    fn a_reaction_is_exactly_one_emoji_fully_qualified() {
        assert_eq!(canonical_emoji("👍"), Ok("👍"));
        assert_eq!(canonical_emoji("\u{2764}"), Ok("\u{2764}\u{FE0F}"));
        assert_eq!(canonical_emoji("👋🏽"), Ok("👋🏽"));
        for bad in ["👍👍", "x", "", "👍 ", "\u{200D}"] {
            assert_eq!(
                canonical_emoji(bad),
                Err(EmojiError::NotOneEmoji),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn mentions_are_names_after_an_at_at_the_start_of_a_word() {
        assert_eq!(mentions("hi @Bob, and @alice!"), ["bob", "alice"]);
        assert_eq!(mentions("@bob @BOB @bob."), ["bob"]);
        assert_eq!(mentions("mail bob@example.com"), Vec::<String>::new());
        assert_eq!(mentions("(@zoe\u{308}) @ @@x"), ["zo\u{EB}", "x"]);
        assert_eq!(mentions("@\u{2800}"), Vec::<String>::new());
        let many: String = (0..30).map(|i| format!("@u{i} ")).collect();
        assert_eq!(mentions(&many).len(), MENTIONS_MAX);
    }

    #[test]
    fn names_that_look_alike_have_one_key() {
        let alice = name_key("alice");
        for look_alike in [
            "Alice",
            "ALICE",
            "\u{430}lice",
            "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}",
            "\u{1D41A}lice",
        ] {
            let canonical = canonical_username(look_alike).expect("a valid name");
            assert_eq!(name_key(&canonical), alice, "{look_alike:?}");
        }
        assert_ne!(name_key("bob"), alice);
        assert_ne!(name_key("alicia"), alice);
        assert_eq!(name_key("闲聊"), name_key("闲聊"));
    }

    #[test]
    fn names_are_compared_in_nfc() {
        let decomposed = "Zoe\u{308}";
        assert_eq!(canonical_username(decomposed), Ok("Zo\u{EB}".to_owned()));
        assert_eq!(canonical_username("Zo\u{EB}"), Ok("Zo\u{EB}".to_owned()));
    }

    #[test]
    fn invisible_characters_that_pass_for_nothing_are_refused() {
        for spoof in [
            "bo\u{AD}b",
            "bob\u{FE0F}",
            "bob\u{E0041}",
            "bo\u{34F}b",
            "bob\u{180E}",
            "bob\u{61C}",
            "bo\u{200D}b",
            "\u{3164}",
            "a\u{3164}",
            "\u{115F}",
            "\u{FFA0}x",
            "\u{1F600}\u{200D}",
        ] {
            assert_eq!(
                canonical_username(spoof),
                Err(UsernameError::ForbiddenCharacter),
                "{spoof:?}"
            );
        }
    }

    #[test]
    fn a_name_needs_a_visible_character() {
        for blank in ["\u{2800}", "\u{301}", "\u{301}\u{302}", "\u{2800}\u{2800}"] {
            assert_eq!(
                canonical_username(blank),
                Err(UsernameError::NothingVisible),
                "{blank:?}"
            );
        }
        assert_eq!(canonical_username("a\u{301}"), Ok("\u{E1}".to_owned()));
    }

    #[test]
    fn emoji_sequences_keep_their_joiners_and_selectors() {
        for emoji in [
            "\u{1F469}\u{200D}\u{1F4BB}",                   // woman technologist
            "\u{2764}\u{FE0F}",                             // red heart
            "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",           // rainbow flag
            "\u{1F44B}\u{1F3FD}",                           // waving hand, skin tone
            "\u{1F469}\u{1F3FD}\u{200D}\u{1F4BB} Zo\u{EB}", // with a tone, and a name
            "闲聊",
        ] {
            assert_eq!(canonical_username(emoji), Ok(emoji.to_owned()), "{emoji:?}");
        }
    }
}
