//! `/login` (and any room's address before a name is chosen): choose a name.

use protocol::{validate_username, USERNAME_MAX_CHARS};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::router::{use_navigator, use_route, Route};
use crate::session::{SessionAction, SessionHandle};

#[component]
pub fn Login() -> Html {
    let session = use_context::<SessionHandle>().expect("the app provides a session");
    let navigator = use_navigator();
    let on_login_page = use_route() == Route::Login;
    let name = use_state(|| {
        session
            .user
            .clone()
            .or_else(|| session.refused_name.clone())
            .unwrap_or_default()
    });
    let input = use_node_ref();
    // Show the rule only once the user has typed or tried to submit.
    let touched = use_state(|| false);
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
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            touched.set(true);
            let typed = input
                .cast::<HtmlInputElement>()
                .map_or_else(|| (*name).clone(), |field| field.value());
            if let Ok(user) = validate_username(&typed) {
                session.dispatch(SessionAction::Login(user.to_owned()));
                // At a room's address, the room shows once signed in.
                if on_login_page {
                    navigator.push(&Route::Home);
                }
            } else {
                name.set(typed);
            }
        })
    };
    let error = match (&verdict, *touched) {
        (Err(error), true) => Some(error.to_string()),
        _ => None,
    };
    let notice = use_context::<SessionHandle>().and_then(|s| s.notice.clone());

    html! {
        <main class="login">
            <form class="login-card" {onsubmit} novalidate=true>
                <h1>{ "Chat" }</h1>
                <p class="lead">{ "Pick a name to join the room." }</p>
                if let Some(notice) = notice {
                    <p class="alert" role="alert" id="login-notice">{ notice }</p>
                }
                <label for="username">{ "Your name" }</label>
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
                    { error.unwrap_or_else(|| format!("1 to {USERNAME_MAX_CHARS} characters.")) }
                </p>
                <button type="submit" class="primary" disabled={verdict.is_err() && *touched}>
                    { "Enter the room" }
                </button>
            </form>
        </main>
    }
}
