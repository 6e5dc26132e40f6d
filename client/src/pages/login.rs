//! `/login` (and any room's address before a name is chosen): choose a
//! name, with its password if it is a claimed one. Signing in sets the
//! session cookie the chat's WebSocket is then authorised by.

use protocol::{validate_username, PASSWORD_MAX_CHARS, USERNAME_MAX_CHARS};
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::effects::use_state_with;
use crate::i18n::{t, tr, username_error, T};
use crate::router::{use_navigator, use_route, Route};
use crate::session::{SessionAction, SessionHandle};

#[component]
pub fn Login() -> Html {
    let session = use_context::<SessionHandle>().expect("the app provides a session");
    let navigator = use_navigator();
    let route = use_route();
    let on_login_page = route == Route::Login;
    // At a room's address: the page names the room it opens.
    let lead = match &route {
        Route::Room { room } | Route::Message { room, .. } => t::pick_name_for(room),
        Route::Login | Route::Home | Route::NotFound => tr(T::PickName).to_owned(),
    };
    let session_notice = session.notice.clone();
    let name = use_state_with(|| {
        session
            .user
            .clone()
            .or_else(|| session.refused_name.clone())
            .unwrap_or_default()
    });
    let input = use_node_ref();
    let password = use_node_ref();
    // The server's refusal of the last try, and whether one is under way.
    let refusal = use_state_with(|| None::<String>);
    let busy = use_state_with(|| false);
    // Show the rule only once the user has typed or tried to submit.
    let touched = use_state_with(|| false);
    let verdict = validate_username(&name).map(str::to_owned);

    let oninput = {
        let name = name.clone();
        let touched = touched.clone();
        Callback::from(move |e: InputEvent| {
            name.set(e.target_unchecked_into::<HtmlInputElement>().value());
            touched.set(true);
        })
    };
    // Reads the field itself: an autofill followed at once by Enter may
    // not have rendered yet.
    let onsubmit = {
        let touched = touched.clone();
        let name = name.clone();
        let input = input.clone();
        let password = password.clone();
        let refusal = refusal.clone();
        let busy = busy.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            touched.set(true);
            let typed = input
                .cast::<HtmlInputElement>()
                .map_or_else(|| (*name).clone(), |field| field.value());
            let Ok(user) = validate_username(&typed).map(str::to_owned) else {
                name.set(typed);
                return;
            };
            let secret = password
                .cast::<HtmlInputElement>()
                .map(|field| field.value())
                .unwrap_or_default();
            let (session, navigator, refusal, busy) = (
                session.clone(),
                navigator.clone(),
                refusal.clone(),
                busy.clone(),
            );
            busy.set(true);
            spawn_local(async move {
                let password = (!secret.is_empty()).then_some(secret.as_str());
                let body = crate::api::body(&[("user", Some(&user)), ("password", password)]);
                let signed_in = crate::api::call("POST", "/api/session", Some(body)).await;
                busy.set(false);
                match signed_in {
                    Ok(answer) => {
                        // The name as the server binds it (a claimed name as
                        // claimed).
                        let user = crate::api::field(&answer, "user").unwrap_or(user);
                        session.dispatch(SessionAction::Login(user));
                        // At a room's address, the room shows once signed in.
                        if on_login_page {
                            navigator.push(&Route::Home);
                        }
                    }
                    Err(reason) => refusal.set(Some(reason)),
                }
            });
        })
    };
    let error = match (&verdict, *touched) {
        (Err(error), true) => Some(username_error(*error)),
        _ => None,
    };
    let notice = (*refusal).clone().or(session_notice);

    html! {
        <main class="login">
            <form class="login-card" {onsubmit} novalidate=true>
                <h1>{ tr(T::Product) }</h1>
                <p class="lead">{ lead }</p>
                if let Some(notice) = notice {
                    <p class="alert" role="alert" id="login-notice">{ notice }</p>
                }
                <label for="username">{ tr(T::YourName) }</label>
                <input
                    ref={input}
                    id="username"
                    name="username"
                    type="text"
                    autocomplete="nickname"
                    autofocus=true
                    maxlength={(USERNAME_MAX_CHARS * 4).to_string()}
                    value={(*name).clone()}
                    {oninput}
                    aria-invalid={error.is_some().to_string()}
                    aria-describedby="username-help"
                />
                <p id="username-help" class="help">
                    { error.unwrap_or_else(|| t::username_rule(USERNAME_MAX_CHARS as u64)) }
                </p>
                <label for="password">{ tr(T::Password) }</label>
                <input ref={password} id="password" name="password" type="password"
                    autocomplete="current-password"
                    maxlength={(PASSWORD_MAX_CHARS * 4).to_string()}
                    aria-describedby="password-help" />
                <p id="password-help" class="help">
                    { tr(T::PasswordHint) }
                </p>
                <button type="submit" class="primary"
                    disabled={(verdict.is_err() && *touched) || *busy}>
                    { tr(T::Enter) }
                </button>
            </form>
        </main>
    }
}
