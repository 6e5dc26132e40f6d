//! `/`: the room.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::components::composer::Composer;
use crate::components::message_list::MessageList;
use crate::components::people::People;
use crate::components::status::Status;
use crate::room_state::RoomAction;
use crate::session::{SessionAction, SessionHandle};
use crate::socket::use_room;
use crate::Route;

/// Without a stored name, the room sends the visitor to `/login`.
#[component]
pub fn Room() -> Html {
    let session = use_context::<SessionHandle>().expect("the app provides a session");
    match session.user.clone() {
        Some(user) => html! { <RoomView {user} /> },
        None => html! { <Redirect<Route> to={Route::Login} /> },
    }
}

#[derive(Properties, PartialEq)]
struct RoomViewProps {
    user: String,
}

#[component]
fn RoomView(props: &RoomViewProps) -> Html {
    let session = use_context::<SessionHandle>().expect("the app provides a session");
    let room = use_room(&props.user);
    let state = &room.state;

    // A refused name ends the session; the login page shows why.
    use_effect_with(state.refused.clone(), {
        let session = session.clone();
        move |refused| {
            if let Some(reason) = refused {
                session.dispatch(SessionAction::Refused(reason.clone()));
            }
        }
    });

    let leave = Callback::from(move |_| session.dispatch(SessionAction::Logout));
    let dismiss = {
        let state = state.clone();
        Callback::from(move |_| state.dispatch(RoomAction::DismissNotice))
    };
    let me = state.me.clone().unwrap_or_else(|| props.user.clone());

    html! {
        <main class="room">
            <header class="topbar">
                <h1>{ "Chat" }</h1>
                <Status connection={state.connection.clone()} now={state.now}
                    on_reconnect={room.reconnect_now.clone()} />
                // Offline, nobody is known to be online: no list, rather
                // than "0 online".
                if state.online() {
                    <People users={state.online_users.clone()} count={state.online_count}
                        me={state.me.clone()} />
                }
                <span class="me" title="Your name">{ me }</span>
                <button class="leave" onclick={leave}>{ "Leave" }</button>
            </header>
            <MessageList
                entries={state.entries.clone()}
                outbox={state.outbox.clone()}
                presence_notices={state.presence_notices.clone()}
                has_older={state.has_older}
                loading_older={state.loading_older}
                on_load_older={room.load_older.clone()}
                on_retry={room.retry.clone()}
                on_discard={room.discard.clone()}
            />
            if let Some(notice) = state.notice.clone() {
                <div class="notice" role="alert">
                    <span>{ notice }</span>
                    <button class="dismiss" onclick={dismiss} aria-label="Dismiss">{ "×" }</button>
                </div>
            }
            <p class="typing" aria-live="polite">{ typing_line(&state.typing_users()) }</p>
            <Composer online={state.online()} on_send={room.post.clone()}
                on_typing={room.typing.clone()} />
        </main>
    }
}

/// "alice is typing…", "alice and bob are typing…", "3 people are typing…".
fn typing_line(users: &[&str]) -> String {
    match users {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        [one, two] => format!("{one} and {two} are typing…"),
        many => format!("{} people are typing…", many.len()),
    }
}
