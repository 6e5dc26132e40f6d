//! The menu of the user's own name: keep it (claim it with a password),
//! change its password, its API tokens (see `tokens`), sign out.

use protocol::PASSWORD_MAX_CHARS;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::api;
use crate::components::menu::menu;
use crate::components::people::member_mark;
use crate::components::tokens::{tokens, use_tokens, TokensState};
use crate::effects::use_state_with;
use crate::i18n::{tr, Lang, T};

/// What the last request said: for `role="status"`.
pub type Outcome = Option<Result<String, String>>;

/// The menu's state, kept by the page (a function, not a component: each
/// component type costs the client about 0.65 KB).
#[derive(Clone)]
pub struct AccountState {
    outcome: UseStateHandle<Outcome>,
    current: NodeRef,
    new: NodeRef,
    tokens: TokensState,
}

#[hook]
pub fn use_account() -> AccountState {
    AccountState {
        outcome: use_state_with(|| None),
        current: use_node_ref(),
        new: use_node_ref(),
        tokens: use_tokens(),
    }
}

/// The menu of `me` (`claimed` or a guest's name).
pub fn account(state: &AccountState, me: &str, claimed: bool, on_sign_out: &Callback<()>) -> Html {
    let AccountState {
        outcome,
        current,
        new,
        tokens: tokens_state,
    } = state.clone();
    let value = |field: &NodeRef| {
        field
            .cast::<HtmlInputElement>()
            .map(|input| input.value())
            .unwrap_or_default()
    };
    let request = {
        let outcome = outcome.clone();
        move |path: &'static str, body: Option<String>, done: fn(String) -> String| {
            let outcome = outcome.clone();
            spawn_local(async move {
                let answer = api::call("POST", path, body).await;
                outcome.set(Some(answer.map(done)));
            });
        }
    };
    let onsubmit = {
        let (current, new, request) = (current.clone(), new.clone(), request.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let password = value(&new);
            if claimed {
                let current = value(&current);
                let change =
                    api::body(&[("current", Some(&current)), ("password", Some(&password))]);
                request("/api/password", Some(change), |_| {
                    tr(T::PasswordChanged).into()
                });
            } else {
                let claim = api::body(&[("password", Some(&password))]);
                // Reconnected, the chat marks the name as claimed.
                request("/api/claim", Some(claim), |_| {
                    let _ = gloo::utils::window().location().reload();
                    tr(T::NameKept).into()
                });
            }
        })
    };
    // The tokens are read when the menu opens: most people never do.
    let on_open = claimed.then(|| {
        let tokens_state = tokens_state.clone();
        Callback::from(move |()| tokens_state.refresh())
    });
    let sign_out = on_sign_out.reform(|_: MouseEvent| ());
    let maxlength = (PASSWORD_MAX_CHARS * 4).to_string();
    let body = html! {
            <>
                <form {onsubmit}>
                    if claimed {
                        <label for="current-password">{ tr(T::CurrentPassword) }</label>
                        <input ref={current} id="current-password" type="password"
                            autocomplete="current-password" maxlength={maxlength.clone()} />
                    } else {
                        <p class="hint">{ tr(T::KeepNameHint) }</p>
                    }
                    <label for="new-password">{ tr(T::NewPassword) }</label>
                    <input ref={new} id="new-password" type="password"
                        autocomplete="new-password" {maxlength} />
                    <button type="submit">
                        { tr(if claimed { T::ChangePassword } else { T::KeepName }) }
                    </button>
                </form>
                { outcome_line(&outcome) }
                if claimed {
                    { tokens(&tokens_state) }
                }
                { languages() }
                <button class="leave" onclick={sign_out}>{ tr(T::SignOut) }</button>
            </>
    };
    let label = html! { <span class="me">{ me }{ member_mark(claimed) }</span> };
    menu(
        "account",
        "account-menu",
        label,
        Some(tr(T::YourName)),
        on_open,
        body,
    )
}

/// The other languages, each named in itself: picking one starts the
/// page again in it.
fn languages() -> Html {
    let current = Lang::current();
    let others = Lang::ALL.into_iter().filter(|lang| *lang != current);
    html! {
        <p class="languages" role="group" aria-label={tr(T::LanguageMenu)}>
            { for others.map(|lang| html! {
                <button type="button" lang={lang.tag()} onclick={move |_| crate::i18n::pick(lang)}>
                    { lang.name() }
                </button>
            }) }
        </p>
    }
}

pub fn outcome_line(outcome: &Outcome) -> Html {
    match outcome {
        None => Html::default(),
        Some(Ok(text)) => html! { <p role="status" class="hint">{ text }</p> },
        Some(Err(text)) => html! { <p role="alert" class="alert">{ text }</p> },
    }
}
