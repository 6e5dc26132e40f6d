//! Lower case as the browser does it (`String.prototype.toLowerCase`):
//! Rust's own `to_lowercase` would carry Unicode's case tables into the
//! client (BENCHMARKS.md, "Web client size"). Off the browser (the
//! reducers' tests), Rust's, which agrees.

#[cfg(target_arch = "wasm32")]
pub fn lower(text: &str) -> String {
    js_sys::JsString::from(text).to_lower_case().into()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn lower(text: &str) -> String {
    text.to_lowercase()
}
