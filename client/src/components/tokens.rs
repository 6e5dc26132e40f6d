//! A claimed name's API tokens, in its name's menu: make one with a name
//! (shown once, with a button to copy it), see them listed with when each
//! expires, revoke each (its connections close at once).
//!
//! The list is read with the browser's `JSON` rather than serde, as
//! `api` explains.

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::api;
use crate::effects::use_state_with;
use crate::i18n::{t, tr, Lang, T};

/// One token as `GET /api/tokens` lists it.
#[derive(Clone, PartialEq)]
pub struct Listed {
    id: String,
    name: String,
    /// Ms since the epoch; `None`: until revoked.
    expires_at: Option<f64>,
}

/// The section's state, kept by the page (see `account`).
#[derive(Clone)]
pub struct TokensState {
    /// `None` until first read.
    listed: UseStateHandle<Option<Vec<Listed>>>,
    /// The token just made, shown once.
    made: UseStateHandle<Option<String>>,
    outcome: UseStateHandle<super::account::Outcome>,
    name: NodeRef,
}

#[hook]
pub fn use_tokens() -> TokensState {
    TokensState {
        listed: use_state_with(|| None),
        made: use_state_with(|| None),
        outcome: use_state_with(|| None),
        name: use_node_ref(),
    }
}

impl TokensState {
    /// Reads the list again (when the menu opens, after a change).
    pub fn refresh(&self) {
        self.call("GET", "/api/tokens".into(), None, |state, json| {
            state.listed.set(Some(parse_list(&json)));
        });
    }

    /// `method path` with `body`: `done` takes the answer; a refusal is
    /// shown. (One future for every request: each costs the client code.)
    fn call(
        &self,
        method: &'static str,
        path: String,
        body: Option<String>,
        done: fn(&TokensState, String),
    ) {
        let state = self.clone();
        spawn_local(async move {
            match api::call(method, &path, body).await {
                Ok(answer) => done(&state, answer),
                Err(error) => state.outcome.set(Some(Err(error))),
            }
        });
    }
}

fn parse_list(json: &str) -> Vec<Listed> {
    let Ok(parsed) = js_sys::JSON::parse(json) else {
        return Vec::new();
    };
    let get = |item: &JsValue, field: &str| js_sys::Reflect::get(item, &field.into()).ok();
    js_sys::Array::from(&parsed)
        .iter()
        .filter_map(|item| {
            Some(Listed {
                id: get(&item, "id")?.as_string()?,
                name: get(&item, "name")
                    .and_then(|name| name.as_string())
                    .unwrap_or_default(),
                expires_at: get(&item, "expiresAt").and_then(|at| at.as_f64()),
            })
        })
        .collect()
}

/// The section, for a claimed name.
pub fn tokens(state: &TokensState) -> Html {
    let create = {
        let state = state.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let name = (state.name.cast::<HtmlInputElement>())
                .map(|input| input.value())
                .unwrap_or_default();
            let body = api::body(&[("name", Some(name.trim()).filter(|n| !n.is_empty()))]);
            state.call("POST", "/api/tokens".into(), Some(body), |state, answer| {
                state.made.set(api::field(&answer, "token"));
                state.outcome.set(None);
                if let Some(input) = state.name.cast::<HtmlInputElement>() {
                    input.set_value("");
                }
                state.refresh();
            });
        })
    };
    let listed = (*state.listed).clone().unwrap_or_default();
    html! {
        <section class="tokens" aria-labelledby="tokens-title">
            <h2 id="tokens-title">{ tr(T::ApiTokens) }</h2>
            <form onsubmit={create}>
                <label for="token-name">{ tr(T::TokenName) }</label>
                <input ref={state.name.clone()} id="token-name" maxlength="64" autocomplete="off" />
                <button type="submit">{ tr(T::CreateToken) }</button>
            </form>
            { made(state) }
            if listed.is_empty() {
                <p class="hint">{ tr(T::NoTokens) }</p>
            } else {
                <ul class="token-list">{ for listed.iter().map(|token| row(state, token)) }</ul>
            }
            { super::account::outcome_line(&state.outcome) }
        </section>
    }
}

/// The token just made, with a button to copy it: it is never shown again.
fn made(state: &TokensState) -> Html {
    let Some(token) = (*state.made).clone() else {
        return Html::default();
    };
    let copy = {
        let (token, outcome) = (token.clone(), state.outcome.clone());
        Callback::from(move |_: MouseEvent| {
            let clipboard = gloo::utils::window().navigator().clipboard();
            let (token, outcome) = (token.clone(), outcome.clone());
            spawn_local(async move {
                // Refused (no permission), the token stays there to select.
                let copied = wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&token));
                if copied.await.is_ok() {
                    outcome.set(Some(Ok(tr(T::Copied).into())));
                }
            });
        })
    };
    html! {
        <div class="token-made" role="status">
            <p class="hint">{ tr(T::NewToken) }</p>
            <code class="token-value">{ token }</code>
            <button type="button" onclick={copy}>{ tr(T::Copy) }</button>
        </div>
    }
}

fn row(state: &TokensState, token: &Listed) -> Html {
    let revoke = {
        let (state, id) = (state.clone(), token.id.clone());
        Callback::from(move |_: MouseEvent| {
            state.call("DELETE", format!("/api/tokens/{id}"), None, |state, _| {
                state.outcome.set(Some(Ok(tr(T::Revoked).into())));
                state.refresh();
            });
        })
    };
    let name = if token.name.is_empty() {
        tr(T::NoTokenName)
    } else {
        &token.name
    };
    let expires = match token.expires_at {
        Some(at) => t::until(&local_date(at)),
        None => tr(T::UntilRevoked).to_owned(),
    };
    html! {
        <li>
            <span class="token-name">{ name }</span>
            <span class="hint">{ expires }</span>
            <button type="button" onclick={revoke} aria-label={t::revoke_token(name)}>
                { tr(T::Revoke) }
            </button>
        </li>
    }
}

/// A date in the browser's locale.
fn local_date(ms: f64) -> String {
    js_sys::Date::new(&JsValue::from_f64(ms))
        .to_locale_date_string(Lang::current().tag(), &JsValue::UNDEFINED)
        .into()
}
