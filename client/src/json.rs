//! The server's frames, parsed by the browser (`JSON.parse`) and read by
//! the protocol's one decoder (`protocol::JsonValue`): the client carries no
//! JSON parser of its own (serde_json's `Value` cost 6 KB gzip).
//!
//! JavaScript's numbers are exact up to 2^53 - 1: a larger id or count
//! reads as a wrong field, and the frame is skipped, as any frame this
//! client cannot read (the server numbers messages from 1, one at a time).
//! Fields are read with `Reflect.get`: the decoder asks only for its own
//! names, none of them an `Object.prototype` member.

use protocol::ServerFrame;

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
        fn number(&self) -> Option<f64> {
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
            self.number().filter(|n| *n >= 0.0).map(|n| n as u64)
        }

        fn signed(&self) -> Option<i64> {
            self.number().map(|n| n as i64)
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
