//! The chat's web client.
//!
//! - `pages/`: the login page and the chat, one per route.
//! - `components/`: the sidebar, the message list, the composer, the
//!   connection status, the online list.
//! - [`state`]: the chat as a pure reducer over the server's frames, a
//!   module per concern.
//! - [`socket`]: the WebSocket and its reconnect loop, as a hook: the only
//!   place that sends.
//! - [`session`]: the chosen name and its localStorage persistence.
//! - [`router`]: the addresses, on the browser's History API.

// A new variant of our own enums is a compile error wherever it must be
// decided: no wildcard arm over them (tests may skip what they ignore).
#![cfg_attr(not(test), deny(clippy::wildcard_enum_match_arm))]

/// Talc instead of Rust's default dlmalloc: smaller in the module, and
/// faster (BENCHMARKS.md, "Web client size").
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

mod api;
mod backoff;
mod components;
mod effects;
mod i18n;
mod json;
mod lower;
mod pages;
mod random;
mod router;
mod session;
mod shortcuts;
mod socket;
mod state;

use yew::prelude::*;

use crate::effects::use_effect_on;

use pages::{chat::chat_page, login::Login};
use router::Route;
use router::Router;
use session::{Session, SessionHandle};

/// The page of `route`, or where to go instead.
fn switch(route: Route, session: &SessionHandle) -> Result<Html, Route> {
    match route {
        Route::Login => Ok(html! { <Login /> }),
        Route::Home => chat_page(session, None, None),
        Route::Room { room } => chat_page(session, Some(room), None),
        Route::Message { room, id } => chat_page(session, Some(room), Some(id)),
        Route::NotFound => Err(Route::Home),
    }
}

#[component]
fn App() -> Html {
    let session: SessionHandle = use_reducer(Session::load);
    use_effect_on(session.user.clone(), {
        let session = session.clone();
        move |_| session.save()
    });
    html! {
        <ContextProvider<SessionHandle> context={session.clone()}>
            <Router render={Callback::from(move |route| switch(route, &session))} />
        </ContextProvider<SessionHandle>>
    }
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    i18n::start();
    yew::Renderer::<App>::new().render();
}
