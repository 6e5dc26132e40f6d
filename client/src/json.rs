//! JSON read through the browser (`JSON.parse`): the server's frames, by
//! the protocol's one decoder (`protocol::JsonValue`), and what the client
//! kept in localStorage, by small readers over the same trait. The client
//! carries no JSON parser of its own (serde_json's cost it 3.5 KB gzip);
//! it still writes JSON with serde_json, whose encoder is small.
//!
//! JavaScript's numbers are exact up to 2^53 - 1: a larger id or count
//! reads as a wrong field, and the frame is skipped, as any frame this
//! client cannot read (the server numbers messages from 1, one at a time).
//! Fields are read with `Reflect.get`: the decoder asks only for its own
//! names, none of them an `Object.prototype` member.

use protocol::{JsonValue, ServerFrame};

/// Reads a frame's text: `None` when it is not JSON or not a frame this
/// client can read. Off the browser (the reducers' unit tests), serde_json
/// parses, into the same decoder.
#[cfg(target_arch = "wasm32")]
pub fn server_frame(text: &str) -> Option<ServerFrame> {
    let value = js_sys::JSON::parse(text).ok()?;
    ServerFrame::read(browser::Js(value)).ok()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn server_frame(text: &str) -> Option<ServerFrame> {
    ServerFrame::parse(text).ok()
}

/// What localStorage holds under `key` (JSON, as gloo's `LocalStorage::set`
/// wrote it), parsed; none when absent or unreadable.
#[cfg(target_arch = "wasm32")]
pub fn stored(key: &str) -> Option<impl JsonValue> {
    let text = gloo::utils::window()
        .local_storage()
        .ok()??
        .get_item(key)
        .ok()??;
    parse(&text)
}

/// Off the browser nothing is stored (the readers are tested on
/// serde_json's values instead).
#[cfg(not(target_arch = "wasm32"))]
pub fn stored(_key: &str) -> Option<impl JsonValue> {
    None::<&'static serde_json::Value>
}

/// `text` parsed by the browser; none when it is not JSON. (Off the
/// browser, none: the readers are tested on serde_json's values.)
#[cfg(target_arch = "wasm32")]
pub fn parse(text: &str) -> Option<impl JsonValue> {
    js_sys::JSON::parse(text).ok().map(browser::Js)
}

#[cfg(not(target_arch = "wasm32"))]
pub fn parse(_text: &str) -> Option<impl JsonValue> {
    None::<&'static serde_json::Value>
}

/// A string kept under `key`.
pub fn stored_string(key: &str) -> Option<String> {
    stored(key)?.string()
}

/// A list of strings: the items that are strings.
pub fn strings(value: &impl JsonValue) -> Vec<String> {
    value
        .items()
        .map(|items| items.filter_map(|item| item.string()).collect())
        .unwrap_or_default()
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use std::borrow::Cow;

    use js_sys::{Array, Object, Reflect};
    use protocol::JsonValue;
    use wasm_bindgen::{JsCast, JsValue};

    /// The largest whole number JavaScript holds exactly.
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

    /// A value the browser parsed (only there: off it, `JsValue` panics).
    pub(super) struct Js(pub(super) JsValue);

    impl Js {
        fn exact(&self) -> Option<f64> {
            self.0
                .as_f64()
                .filter(|n| n.fract() == 0.0 && n.abs() <= MAX_SAFE)
        }
    }

    impl JsonValue for Js {
        fn field(&self, name: &'static str) -> Option<Self> {
            if !self.is_object() {
                return None;
            }
            let value = Reflect::get(&self.0, &JsValue::from_str(name)).ok()?;
            (!value.is_null() && !value.is_undefined()).then_some(Js(value))
        }

        fn is_object(&self) -> bool {
            self.0.is_object() && !Array::is_array(&self.0)
        }

        fn string(&self) -> Option<String> {
            self.0.as_string()
        }

        fn whole(&self) -> Option<u64> {
            self.exact().filter(|n| *n >= 0.0).map(|n| n as u64)
        }

        fn signed(&self) -> Option<i64> {
            self.exact().map(|n| n as i64)
        }

        fn number(&self) -> Option<f64> {
            self.0.as_f64()
        }

        fn boolean(&self) -> Option<bool> {
            self.0.as_bool()
        }

        fn items(&self) -> Option<impl Iterator<Item = Self>> {
            let array = self.0.dyn_ref::<Array>()?.clone();
            Some((0..array.length()).map(move |at| Js(array.get(at))))
        }

        fn variant(&self) -> Option<(Cow<'_, str>, Option<Self>)> {
            if let Some(tag) = self.0.as_string() {
                return Some((Cow::Owned(tag), None));
            }
            if !self.is_object() {
                return None;
            }
            let keys = Object::keys(self.0.unchecked_ref::<Object>());
            if keys.length() != 1 {
                return None;
            }
            let tag = keys.get(0).as_string()?;
            let content = Reflect::get(&self.0, &JsValue::from_str(&tag)).ok()?;
            Some((Cow::Owned(tag), Some(Js(content))))
        }
    }
}
