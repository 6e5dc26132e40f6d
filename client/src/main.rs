//! The chat room's web client.
//!
//! - `pages/`: the login page and the room, one per route.
//! - `components/`: the message list, the composer, the connection status.
//! - [`room_state`]: the room as a pure reducer over the server's frames.
//! - [`socket`]: the WebSocket and its reconnect loop, as a hook.
//! - [`session`]: the chosen name and its localStorage persistence.
//! - [`outbox`]: unconfirmed messages, kept in localStorage.

mod backoff;
mod components;
mod outbox;
mod pages;
mod random;
mod room_state;
mod session;
mod socket;

use yew::prelude::*;
use yew_router::prelude::*;

use pages::{login::Login, room::Room};
use session::{Session, SessionHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Routable)]
pub enum Route {
    #[at("/login")]
    Login,
    #[at("/")]
    Room,
    #[not_found]
    #[at("/404")]
    NotFound,
}

fn switch(route: Route) -> Html {
    match route {
        Route::Login => html! { <Login /> },
        Route::Room => html! { <Room /> },
        Route::NotFound => html! { <Redirect<Route> to={Route::Room} /> },
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
