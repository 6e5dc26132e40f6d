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

mod backoff;
mod components;
mod pages;
mod random;
mod session;
mod socket;
mod state;

use yew::prelude::*;
use yew_router::prelude::*;

use pages::{chat::ChatPage, login::Login};
use session::{Session, SessionHandle};

#[derive(Debug, Clone, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/login")]
    Login,
    /// The server's default room.
    #[at("/")]
    Home,
    #[at("/r/:room")]
    Room { room: String },
    /// A message's permalink: its room, scrolled to it.
    #[at("/r/:room/m/:id")]
    Message { room: String, id: u64 },
    #[not_found]
    #[at("/404")]
    NotFound,
}

fn switch(route: Route) -> Html {
    match route {
        Route::Login => html! { <Login /> },
        Route::Home => html! { <ChatPage /> },
        Route::Room { room } => html! { <ChatPage room={Some(room)} /> },
        Route::Message { room, id } => {
            html! { <ChatPage room={Some(room)} highlight={Some(id)} /> }
        }
        Route::NotFound => html! { <Redirect<Route> to={Route::Home} /> },
    }
}

#[component]
fn App() -> Html {
    let session: SessionHandle = use_reducer(Session::load);
    use_effect_with(session.user.clone(), {
        let session = session.clone();
        move |_| session.save()
    });
    html! {
        <ContextProvider<SessionHandle> context={session}>
            <BrowserRouter>
                <Switch<Route> render={switch} />
            </BrowserRouter>
        </ContextProvider<SessionHandle>>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
