//! The HTTP API of names (see protocol's `account`), with the browser's
//! own `fetch`, and its JSON read and written by the browser's `JSON`
//! (serde's code for five small bodies would cost the client more than
//! the forms that send them): the session cookie goes with each request,
//! and comes back set.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use protocol::{ErrorCode, JsonValue};

use crate::i18n::{t, tr, T};

/// A JSON object of string `fields` (a `None` value is left out).
pub fn body(fields: &[(&str, Option<&str>)]) -> String {
    let object = js_sys::Object::new();
    for (name, value) in fields {
        if let Some(value) = value {
            let _ = js_sys::Reflect::set(&object, &(*name).into(), &(*value).into());
        }
    }
    js_sys::JSON::stringify(&object)
        .ok()
        .and_then(|json| json.as_string())
        .unwrap_or_default()
}

/// The string `field` of the JSON object `json`.
pub fn field(json: &str, field: &str) -> Option<String> {
    let object = js_sys::JSON::parse(json).ok()?;
    js_sys::Reflect::get(&object, &field.into())
        .ok()?
        .as_string()
}

/// `method path` with a JSON `body`: the answer's text if it was a
/// success, else the server's refusal (or why there was no answer) for
/// people to read.
pub async fn call(method: &str, path: &str, body: Option<String>) -> Result<String, String> {
    let unreachable = |_: JsValue| tr(T::Unreachable).to_owned();
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(&body));
    }
    let response = JsFuture::from(gloo::utils::window().fetch_with_str_and_init(path, &init))
        .await
        .map_err(unreachable)?;
    let response: web_sys::Response = response.unchecked_into();
    let text = JsFuture::from(response.text().map_err(unreachable)?)
        .await
        .map_err(unreachable)?
        .as_string()
        .unwrap_or_default();
    if response.ok() {
        return Ok(text);
    }
    // In the reader's language (`i18n::refusal` says how).
    let code = field(&text, "code").and_then(|code| ErrorCode::from_wire(&code));
    let retry_after_ms = crate::json::parse(&text)
        .and_then(|answer| answer.field("retryAfterMs"))
        .and_then(|wait| wait.whole());
    Err(match (code, field(&text, "message")) {
        (Some(code), message) => {
            crate::i18n::refusal(code, retry_after_ms, message.unwrap_or_default())
        }
        (None, Some(message)) => message,
        (None, None) => t::server_answered(u64::from(response.status())),
    })
}
