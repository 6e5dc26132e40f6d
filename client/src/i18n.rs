//! The UI's words, in English and Simplified Chinese.
//!
//! The texts live in `client/i18n/<language>.ftl`, Fluent files a translator
//! edits without reading Rust; `build.rs` compiles them into this module's
//! tables (see there for what it checks). Code names a text by key:
//! `tr(T::SignIn)` for a plain one, `t::purge_all(count, target, room)`
//! for one with variables, so a missing or misspelt key is a compile error.
//!
//! The language is chosen once, as the page starts ([`start`]): the one
//! the reader picked from the menu, else the first of the browser's
//! languages we have, else English. Picking another reloads the page,
//! which then starts in it (every draft and unsent message is kept in
//! localStorage already).

use std::cell::{Cell, OnceCell};

use protocol::{
    ErrorCode, RoomError, UsernameError, MESSAGE_MAX_CHARS, ROOM_MAX_CHARS, USERNAME_MAX_CHARS,
};

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// A language of the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

/// Where the reader's pick is kept.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const STORAGE_KEY: &str = "chat.lang";

thread_local! {
    /// The page's language (a test's, in a test's thread).
    static CURRENT: Cell<Lang> = const { Cell::new(Lang::En) };
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::ZhCn];

    /// Its BCP 47 tag: `<html lang>`, `Intl`'s locale, what is stored.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// Its place in the catalogues' tables (`build.rs`'s `LANGUAGES`).
    fn index(self) -> usize {
        match self {
            Lang::En => 0,
            Lang::ZhCn => 1,
        }
    }

    /// Its name, as its readers write it (the menu's choice).
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => tr(T::LanguageEn),
            Lang::ZhCn => tr(T::LanguageZhCn),
        }
    }

    /// The web app manifest in it.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    fn manifest(self) -> &'static str {
        match self {
            Lang::En => "/manifest.webmanifest",
            Lang::ZhCn => "/manifest.zh-CN.webmanifest",
        }
    }

    /// The CLDR plural category of the whole number `n` (what a
    /// catalogue's `[one]` or `*[other]` selects on).
    pub fn plural(self, n: u64) -> Plural {
        match self {
            // English: "one" for 1 alone.
            Lang::En if n == 1 => Plural::One,
            Lang::En => Plural::Other,
            // Chinese has no plural forms.
            Lang::ZhCn => Plural::Other,
        }
    }

    /// The language a BCP 47 tag asks for, if we have it: English for any
    /// `en`; Chinese for `zh` in the Simplified script (`zh`, `zh-CN`,
    /// `zh-SG`, `zh-Hans`, `zh-Hans-HK`), not for the Traditional
    /// (`zh-TW`, `zh-HK`, `zh-MO`, `zh-Hant`).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub fn of_tag(tag: &str) -> Option<Lang> {
        let tag = tag.to_ascii_lowercase();
        let mut subtags = tag.split(['-', '_']);
        match subtags.next()? {
            "en" => Some(Lang::En),
            "zh" => {
                let mut simplified = true;
                for subtag in subtags {
                    match subtag {
                        "hans" => return Some(Lang::ZhCn),
                        "hant" => return None,
                        "tw" | "hk" | "mo" => simplified = false,
                        _ => {}
                    }
                }
                simplified.then_some(Lang::ZhCn)
            }
            _ => None,
        }
    }

    /// The language to start in: the reader's pick (`stored`), else the
    /// first of the browser's languages (in its order of preference) we
    /// have, else English.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub fn choose<S: AsRef<str>>(
        stored: Option<&str>,
        browser: impl IntoIterator<Item = S>,
    ) -> Lang {
        stored
            .and_then(|tag| Lang::ALL.into_iter().find(|lang| lang.tag() == tag))
            .or_else(|| {
                browser
                    .into_iter()
                    .find_map(|tag| Lang::of_tag(tag.as_ref()))
            })
            .unwrap_or(Lang::En)
    }

    /// The language the page runs in.
    pub fn current() -> Lang {
        CURRENT.with(Cell::get)
    }

    fn set_current(self) {
        CURRENT.with(|current| current.set(self));
    }
}

/// A CLDR plural category. Every one is here, though our two languages
/// use only "one" and "other": a catalogue may name any.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plural {
    Zero,
    One,
    Two,
    Few,
    Many,
    Other,
}

impl Plural {
    /// As a catalogue names it.
    fn name(self) -> &'static str {
        match self {
            Plural::Zero => "zero",
            Plural::One => "one",
            Plural::Two => "two",
            Plural::Few => "few",
            Plural::Many => "many",
            Plural::Other => "other",
        }
    }
}

/// A variable's value.
#[derive(Clone, Copy)]
enum Arg<'a> {
    Str(&'a str),
    Num(u64),
}

thread_local! {
    /// Where each message of each language's catalogue starts, found the
    /// first time one is shown.
    static STARTS: [OnceCell<Vec<usize>>; TEXTS.len()] = const { [const { OnceCell::new() }; TEXTS.len()] };
}

// A language in `Lang::ALL` is one the build compiled a catalogue for.
const _: () = assert!(Lang::ALL.len() == TEXTS.len());

/// Message `index` of `lang`'s catalogue, packed (`build.rs`'s `packed`).
fn message(lang: Lang, index: usize) -> &'static str {
    let text = TEXTS[lang.index()];
    let start = STARTS.with(|starts| {
        let starts = starts[lang.index()].get_or_init(|| {
            let ends = text.match_indices('\0').map(|(at, _)| at + 1);
            std::iter::once(0).chain(ends).collect()
        });
        starts.get(index).copied()
    });
    let rest = start
        .and_then(|start| text.get(start..))
        .unwrap_or_default();
    rest.split('\0').next().unwrap_or_default()
}

/// A text without variables, in the page's language.
pub fn tr(key: T) -> &'static str {
    message(Lang::current(), key as usize)
}

fn fill(key: F, args: &[Arg]) -> String {
    let lang = Lang::current();
    let mut out = String::new();
    push(&mut out, message(lang, key as usize), args, lang);
    out
}

/// `packed` with its variables filled in, onto `out`.
fn push(out: &mut String, packed: &str, args: &[Arg], lang: Lang) {
    let mut rest = packed;
    while let Some(at) = rest.find(|c: char| c < '\u{6}') {
        out.push_str(&rest[..at]);
        let bytes = rest.as_bytes();
        let arg = bytes
            .get(at + 1)
            .and_then(|place| args.get(usize::from(place.wrapping_sub(b'0'))));
        let after = &rest[(at + 2).min(rest.len())..];
        if bytes[at] != 2 {
            match arg {
                Some(Arg::Str(text)) => out.push_str(text),
                Some(Arg::Num(n)) => out.push_str(&n.to_string()),
                None => {}
            }
            rest = after;
            continue;
        }
        // A selector: the variant keyed by the number itself, else by its
        // plural category, else the default.
        let n = match arg {
            Some(Arg::Num(n)) => *n,
            Some(Arg::Str(_)) | None => 0,
        };
        let (variants, next) = after.split_once('\u{5}').unwrap_or((after, ""));
        let (exact, category) = (format!("={n}"), lang.plural(n).name());
        let (mut chosen, mut default) = (None, "");
        for variant in variants.split('\u{3}').skip(1) {
            let (key, text) = variant.split_once('\u{4}').unwrap_or((variant, ""));
            let key = key
                .strip_prefix('*')
                .inspect(|_| default = text)
                .unwrap_or(key);
            if key == exact {
                chosen = Some(text);
                break;
            }
            if key == category && chosen.is_none() {
                chosen = Some(text);
            }
        }
        push(out, chosen.unwrap_or(default), args, lang);
        rest = next;
    }
    out.push_str(rest);
}

/// A name the login page refuses, as the reader reads it.
pub fn username_error(error: UsernameError) -> String {
    match error {
        UsernameError::Empty => tr(T::UsernameEmpty).to_owned(),
        UsernameError::TooLong => t::username_too_long(USERNAME_MAX_CHARS as u64),
        UsernameError::ForbiddenCharacter => tr(T::UsernameForbidden).to_owned(),
        UsernameError::NothingVisible => tr(T::UsernameInvisible).to_owned(),
    }
}

/// A room name the sidebar refuses, as the reader reads it (each states
/// the whole rule, as the server's do).
pub fn room_error(error: RoomError) -> String {
    let max = ROOM_MAX_CHARS as u64;
    match error {
        RoomError::Empty => t::room_empty(max),
        RoomError::TooLong => t::room_too_long(max),
        RoomError::ForbiddenCharacter => t::room_forbidden(max),
        RoomError::MixedScripts => tr(T::RoomMixedScripts).to_owned(),
    }
}

/// What a refusal of the server says to the reader. The server's
/// `message` is English and the most precise (which rule, until when, what
/// in a search cannot be read): an English reader reads it as it is, as
/// does anyone for a code this page does not know. Other readers get the
/// text for its stable code in their language, with the limits the page
/// knows as well as the server and the wait it was told.
pub fn refusal(code: ErrorCode, retry_after_ms: Option<u64>, message: String) -> String {
    let lang = Lang::current();
    if (lang == Lang::En || code == ErrorCode::Unknown) && !message.is_empty() {
        return message;
    }
    coded_refusal(code, retry_after_ms).unwrap_or(message)
}

/// The text of a refusal's code in the page's language; `None` for
/// `Unknown`.
fn coded_refusal(code: ErrorCode, retry_after_ms: Option<u64>) -> Option<String> {
    let key = match code {
        ErrorCode::UsernameTooLong => return Some(t::username_too_long(USERNAME_MAX_CHARS as u64)),
        ErrorCode::MessageTooLong => return Some(t::message_too_long(MESSAGE_MAX_CHARS as u64)),
        ErrorCode::InvalidRoom => return Some(t::room_forbidden(ROOM_MAX_CHARS as u64)),
        ErrorCode::RateLimited => match retry_after_ms {
            Some(ms) => return Some(t::rate_limited_for(ms.div_ceil(1000))),
            None => T::RefusedRateLimited,
        },
        ErrorCode::Unknown => return None,
        ErrorCode::InvalidJson
        | ErrorCode::InvalidFrame
        | ErrorCode::MissingType
        | ErrorCode::UnknownType
        | ErrorCode::InvalidFields
        | ErrorCode::BinaryFrame => T::RefusedFrame,
        ErrorCode::EmptyMessage => T::RefusedEmptyMessage,
        ErrorCode::InvalidMessage => T::RefusedInvalidMessage,
        ErrorCode::InvalidClientId => T::RefusedFrame,
        ErrorCode::EmptyUsername => T::UsernameEmpty,
        ErrorCode::InvalidUsername => T::UsernameForbidden,
        ErrorCode::InvalidLimit => T::RefusedFrame,
        ErrorCode::StorageUnavailable => T::RefusedStorage,
        ErrorCode::ShuttingDown => T::RefusedShuttingDown,
        ErrorCode::UsernameTaken => T::RefusedUsernameTaken,
        ErrorCode::NotInRoom => T::RefusedNotInRoom,
        ErrorCode::TooManyRooms => T::RefusedTooManyRooms,
        ErrorCode::RoomLimitReached => T::RefusedRoomLimit,
        ErrorCode::NotFound => T::RefusedNotFound,
        ErrorCode::NotYours => T::RefusedNotYours,
        ErrorCode::InvalidEmoji => T::RefusedInvalidEmoji,
        ErrorCode::TooManyReactions => T::RefusedTooManyReactions,
        ErrorCode::MessageDeleted => T::RefusedMessageDeleted,
        ErrorCode::NameClaimed => T::RefusedNameClaimed,
        ErrorCode::WrongPassword => T::RefusedWrongPassword,
        ErrorCode::InvalidPassword => T::RefusedInvalidPassword,
        ErrorCode::NotSignedIn => T::RefusedNotSignedIn,
        ErrorCode::ForbiddenOrigin => T::RefusedForbiddenOrigin,
        ErrorCode::Muted => T::RefusedMuted,
        ErrorCode::Banned => T::RefusedBanned,
        ErrorCode::RoomLocked => T::RefusedRoomLocked,
        ErrorCode::NotAllowed => T::RefusedNotAllowed,
        ErrorCode::InvalidQuery => T::RefusedInvalidQuery,
        ErrorCode::ClientIdReused => T::RefusedClientIdReused,
        ErrorCode::TooManyTokens => T::RefusedTooManyTokens,
    };
    Some(tr(key).to_owned())
}

/// Chooses the page's language and tells the document: `<html lang>` (so
/// screen readers, fonts and line breaking follow), its title and the
/// manifest's address. Called once, before the first render.
#[cfg(target_arch = "wasm32")]
pub fn start() {
    let window = gloo::utils::window();
    let stored = window
        .local_storage()
        .ok()
        .flatten()
        .and_then(|storage| storage.get_item(STORAGE_KEY).ok().flatten());
    let browser = window.navigator().languages();
    let browser = browser.iter().filter_map(|tag| tag.as_string());
    let lang = Lang::choose(stored.as_deref(), browser);
    lang.set_current();
    let document = gloo::utils::document();
    // The shell's title is English; the chat's pages set their own.
    document.set_title(tr(T::Product));
    if let Some(root) = document.document_element() {
        let _ = root.set_attribute("lang", lang.tag());
    }
    if lang != Lang::En {
        if let Ok(Some(link)) = document.query_selector("link[rel=manifest]") {
            let _ = link.set_attribute("href", lang.manifest());
        }
    }
}

/// Keeps the reader's pick and starts the page again in it.
#[cfg(target_arch = "wasm32")]
pub fn pick(lang: Lang) {
    let window = gloo::utils::window();
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = storage.set_item(STORAGE_KEY, lang.tag());
    }
    let _ = window.location().reload();
}

#[cfg(not(target_arch = "wasm32"))]
pub fn pick(lang: Lang) {
    lang.set_current();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_chooses_simplified_chinese_only() {
        for tag in [
            "zh",
            "zh-CN",
            "zh-SG",
            "zh-Hans",
            "zh-Hans-HK",
            "ZH-cn",
            "zh_CN",
            "zh-MY",
        ] {
            assert_eq!(Lang::of_tag(tag), Some(Lang::ZhCn), "{tag}");
        }
        for tag in [
            "zh-TW",
            "zh-HK",
            "zh-MO",
            "zh-Hant",
            "zh-Hant-CN",
            "ja",
            "fr-CA",
            "",
        ] {
            assert_eq!(Lang::of_tag(tag), None, "{tag}");
        }
        for tag in ["en", "en-US", "en-GB"] {
            assert_eq!(Lang::of_tag(tag), Some(Lang::En), "{tag}");
        }
    }

    #[test]
    fn the_pick_wins_then_the_first_language_we_have() {
        assert_eq!(Lang::choose(None, ["fr", "zh-CN", "en"]), Lang::ZhCn);
        assert_eq!(Lang::choose(None, ["zh-TW", "en-US", "zh-CN"]), Lang::En);
        assert_eq!(Lang::choose(None, ["de", "ja"]), Lang::En);
        assert_eq!(Lang::choose(Some("en"), ["zh-CN"]), Lang::En);
        assert_eq!(Lang::choose(Some("zh-CN"), ["en"]), Lang::ZhCn);
        // A stored value we do not know (an older or newer page's) is not
        // a pick.
        assert_eq!(Lang::choose(Some("klingon"), ["zh-CN"]), Lang::ZhCn);
    }

    #[test]
    fn plurals_and_exact_numbers_select_per_language() {
        pick(Lang::En);
        assert_eq!(
            t::purge_count(1, "ann", "general"),
            "Remove the one message of ann in #general? This cannot be undone."
        );
        assert_eq!(
            t::purge_count(3, "ann", "general"),
            "Remove all 3 messages of ann in #general? This cannot be undone."
        );
        pick(Lang::ZhCn);
        assert!(t::purge_count(3, "ann", "general").contains('3'));
        assert_eq!(tr(T::LanguageEn), "English");
        pick(Lang::En);
    }

    /// Every message of the catalogues is named somewhere in the client's
    /// code (a message nobody shows is one a translator works on for
    /// nothing).
    #[test]
    fn every_message_is_used() {
        let mut code = String::new();
        read_sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut code,
        );
        let unused: Vec<&str> = USES
            .iter()
            .filter(|(_, name)| !uses(&code, name))
            .map(|(id, _)| *id)
            .collect();
        assert!(unused.is_empty(), "messages no code shows: {unused:?}");
    }

    /// Whether `code` names `name` (`T::Send`, not `T::SendAll`).
    fn uses(code: &str, name: &str) -> bool {
        code.match_indices(name).any(|(at, _)| {
            !code[at + name.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        })
    }

    /// No component or page shows a literal of its own: what a reader
    /// sees comes from the catalogues. Read as Rust tokens, so inside
    /// `html!` too: text between tags, and the attributes people read
    /// (`aria-label`, `placeholder`, `title`, `alt`); other attributes
    /// (`class`, `id`, `type`, …) are for the code. `NOT_TEXT` lists the
    /// literals that look like words and are not (keys, selectors, HTTP
    /// methods).
    #[test]
    fn no_component_shows_a_literal() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        for dir in ["components", "pages"] {
            let mut entries: Vec<_> = std::fs::read_dir(root.join(dir))
                .expect("the client's sources")
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .collect();
            entries.sort();
            for path in entries {
                let text = std::fs::read_to_string(&path).expect("a source file");
                let shipped = text
                    .split("#[cfg(test)]\nmod tests")
                    .next()
                    .unwrap_or_default();
                let tokens: proc_macro2::TokenStream = shipped.parse().expect("Rust");
                literals(tokens, &mut |literal| {
                    if looks_like_text(literal) && !NOT_TEXT.contains(&literal) {
                        found.push(format!("{}: {literal:?}", path.display()));
                    }
                });
            }
        }
        assert!(
            found.is_empty(),
            "text not from the catalogues:\n{}",
            found.join("\n")
        );
    }

    /// Literals that look like words and are read by code, not people.
    const NOT_TEXT: &[&str] = &[
        "ArrowDown",
        "ArrowUp",
        "ArrowLeft",
        "ArrowRight",
        "Home",
        "End",
        "Enter",
        "Escape",
        "Tab",
        "PRE",
        "GET",
        "POST",
        "DELETE",
        "a, button:not(:disabled), pre",
        ".drawer-close, .sidebar a",
        "NFC",
        // `expect`'s: a broken build's, never a reader's.
        "the app provides a session",
    ];

    /// The attributes whose values people read (`aria-label` is `label`
    /// after `aria -`).
    const READ_ATTRIBUTES: &[&str] = &["label", "placeholder", "title", "alt"];

    /// Every string literal of `tokens` that a reader may see: not the
    /// value of an attribute meant for the code.
    fn literals(tokens: proc_macro2::TokenStream, found: &mut dyn FnMut(&str)) {
        use proc_macro2::TokenTree;
        let mut before: [Option<String>; 2] = [None, None];
        for tree in tokens {
            match &tree {
                TokenTree::Group(group) => literals(group.stream(), found),
                TokenTree::Literal(literal) => {
                    let repr = literal.to_string();
                    let attribute = match (&before[0], &before[1]) {
                        (Some(name), Some(equals)) if equals == "=" => Some(name.as_str()),
                        _ => None,
                    };
                    let shown = attribute.is_none_or(|name| READ_ATTRIBUTES.contains(&name));
                    if let (true, Some(text)) = (shown, string_value(&repr)) {
                        found(text);
                    }
                }
                TokenTree::Ident(_) | TokenTree::Punct(_) => {}
            }
            before = [before[1].take(), Some(tree.to_string())];
        }
    }

    /// The text of a string literal's source (`"…"`, `r"…"`, `r#"…"#`).
    fn string_value(repr: &str) -> Option<&str> {
        let raw = repr.strip_prefix('r').map(|rest| rest.trim_matches('#'));
        raw.unwrap_or(repr).strip_prefix('"')?.strip_suffix('"')
    }

    /// Words: Chinese, or two letters in a row, capitalised or with a space
    /// somewhere ("Send", "no rooms", " (you)"), not a class name or a key.
    fn looks_like_text(text: &str) -> bool {
        // A format string's `{name}`s are code.
        let mut plain = String::new();
        let mut inside = false;
        for c in text.chars() {
            match c {
                '{' => inside = true,
                '}' => inside = false,
                c if !inside => plain.push(c),
                _ => {}
            }
        }
        let text = plain.as_str();
        let chinese = text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        let bytes = text.as_bytes();
        let word_at = |at: usize| {
            bytes
                .get(at..at + 2)
                .is_some_and(|two| two.iter().all(u8::is_ascii_alphabetic))
        };
        let capital = word_at(0) && bytes[0].is_ascii_uppercase();
        let spaced = text.contains(' ') && (0..bytes.len()).any(word_at);
        chinese || capital || spaced
    }

    fn read_sources(dir: &std::path::Path, into: &mut String) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("the client's sources")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                read_sources(&path, into);
            } else if path.extension().is_some_and(|ext| ext == "rs") && !path.ends_with("tests.rs")
            {
                let text = std::fs::read_to_string(&path).expect("a source file");
                // What tests name is not shown.
                let shipped = text
                    .split("#[cfg(test)]\nmod tests")
                    .next()
                    .unwrap_or_default();
                into.push_str(shipped);
            }
        }
    }
}
