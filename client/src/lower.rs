//! Unicode's character tables, asked of the browser: lower case
//! (`String.prototype.toLowerCase`), letters or digits and emoji (`\p{…}`
//! patterns). Rust's own `to_lowercase` and `is_alphanumeric` would carry
//! the tables into the client (BENCHMARKS.md, "Web client size"). Off the
//! browser (the reducers' tests), Rust's, which agree.

#[cfg(target_arch = "wasm32")]
pub fn lower(text: &str) -> String {
    js_sys::JsString::from(text).to_lower_case().into()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn lower(text: &str) -> String {
    text.to_lowercase()
}

/// Whether `c` is a letter or a digit as Unicode says (its Alphabetic
/// property, or a number), as Rust's `char::is_alphanumeric`, asked of the
/// browser: Rust's own tables would cost the client 2 KB.
#[cfg(target_arch = "wasm32")]
pub fn is_alphanumeric(c: char) -> bool {
    thread_local! {
        static LETTER_OR_DIGIT: js_sys::RegExp = js_sys::RegExp::new(r"^[\p{Alphabetic}\p{N}]$", "u");
    }
    let mut buffer = [0; 4];
    LETTER_OR_DIGIT.with(|pattern| pattern.test(c.encode_utf8(&mut buffer)))
}

#[cfg(not(target_arch = "wasm32"))]
pub fn is_alphanumeric(c: char) -> bool {
    c.is_alphanumeric()
}

/// Whether `text` is one to three emoji and nothing else but spaces
/// (Unicode's RGI emoji, asked of the browser's `v`-mode patterns).
#[cfg(target_arch = "wasm32")]
pub fn emoji_only(text: &str) -> bool {
    thread_local! {
        static FEW_EMOJI: js_sys::RegExp =
            js_sys::RegExp::new(r"^\s*(?:\p{RGI_Emoji}\s*){1,3}$", "v");
    }
    text.len() <= 64 && FEW_EMOJI.with(|pattern| pattern.test(text))
}

#[cfg(not(target_arch = "wasm32"))]
pub fn emoji_only(_text: &str) -> bool {
    false
}
