//! `/`, `/r/<room>` and `/r/<room>/m/<id>`: the chat, in a room. Before a
//! name is chosen, `/` sends the visitor to `/login`; a room's address shows
//! the login form in place.

use gloo::events::EventListener;
use protocol::ModAction;
use yew::prelude::*;

use crate::components::account::{account, use_account, AccountState};
use crate::components::composer::Composer;
use crate::components::menu::close_menus;
use crate::components::message_list::{short_time, MessageAction, MessageList};
use crate::components::moderation::{
    moderation_menu, use_moderation_form, Moderation, ModerationForm,
};
use crate::components::people::{member_mark, people};
use crate::components::room_menu::room_menu;
use crate::components::route_link::route_link;
use crate::components::search::{search_field, search_panel};
use crate::components::sidebar::{canonical_room, sidebar, use_sidebar};
use crate::components::status::status;
use crate::components::switcher::switcher;
use crate::effects::{use_effect_on, use_effect_undone, use_state_with};
use crate::i18n::{t, tr, Lang, T};
use crate::pages::login::Login;
use crate::router::Route;
use crate::router::{use_navigator, Navigator};
use crate::session::{SessionAction, SessionHandle};
use crate::shortcuts::use_shortcuts;
use crate::socket::{use_chat, ChatHandle, MessageChange};
use crate::state::drafts::{self, Draft};
use crate::state::rooms::{self, Joining, RoomState};
use crate::state::{Alert, Chat, ChatAction};

/// The chat at `room` (as typed: it is made canonical here; `None`: the
/// server's default room), scrolled to `highlight` (a permalink), for the
/// session's user; the login form without one, or at `/` the login page
/// (`Err`: go there). A function of the app's session, not a component:
/// each component type costs the client about 0.65 KB.
pub fn chat_page(
    session: &SessionHandle,
    room: Option<String>,
    highlight: Option<u64>,
) -> Result<Html, Route> {
    match (session.user.clone(), &room) {
        (Some(user), _) => Ok(html! {
            <ChatView {user} {room} {highlight} />
        }),
        // At a room's address the form shows in place, so the address
        // stays; `/` has the login page's own.
        (None, Some(_)) => Ok(html! { <Login /> }),
        (None, None) => Err(Route::Login),
    }
}

#[derive(Properties, PartialEq)]
struct ChatViewProps {
    user: String,
    room: Option<String>,
    highlight: Option<u64>,
}

#[component]
fn ChatView(props: &ChatViewProps) -> Html {
    let session = use_context::<SessionHandle>().expect("the app provides a session");
    let chat = use_chat(&props.user);
    let state = &chat.state;
    let drawer = use_state_with(|| false);
    // What the composer writes for: a reply or an edit belongs to one
    // room, and waits there (across reloads) while the others are read.
    // Kept with the room it is for: a render of the next room before the
    // effect below reads that room's own.
    let draft = use_state_with(|| (None::<String>, Draft::New));
    use_effect_on(state.current.clone(), {
        let draft = draft.clone();
        move |current: &Option<String>| {
            // A menu is about the room it opened in.
            close_menus();
            let mode = current
                .as_deref()
                .map(drafts::load_mode)
                .unwrap_or_default();
            draft.set((current.clone(), mode));
        }
    });

    // A refused name ends the session; the login page shows why.
    use_effect_on(state.refused.clone(), {
        let session = session.clone();
        move |refused| {
            if let Some(reason) = refused {
                session.dispatch(SessionAction::Refused(reason.clone()));
            }
        }
    });
    // The address names the room on screen.
    let wanted = props.room.as_deref().map(canonical_room);
    use_effect_on(wanted.clone(), {
        let state = state.clone();
        let drawer = drawer.clone();
        move |wanted| {
            drawer.set(false);
            match wanted {
                None => state.dispatch(ChatAction::Open { room: None }),
                Some(Ok(room)) => state.dispatch(ChatAction::Open {
                    room: Some(room.clone()),
                }),
                Some(Err(_)) => {}
            }
        }
    });
    // Unread counts need to know whether anyone is looking.
    use_effect_undone((), {
        let dispatcher = state.dispatcher();
        move |()| {
            let document = gloo::utils::document();
            let listener = EventListener::new(&document, "visibilitychange", move |_| {
                dispatcher.dispatch(ChatAction::Visible(!gloo::utils::document().hidden()));
            });
            move || drop(listener)
        }
    });
    let navigator = use_navigator();
    let leave = leave_callback(&chat, &navigator);
    let joined: Vec<String> = state.rooms.iter().map(|room| room.name.clone()).collect();
    use_shortcuts(
        joined.clone(),
        state.current.clone(),
        navigator.clone(),
        state.dispatcher(),
    );
    let go = go_to_room(&navigator);
    let permission = use_state_with(web_sys::Notification::permission);
    let sidebar_state = use_sidebar();
    let account_state = use_account();
    let moderation_form = use_moderation_form();
    // Desktop notifications the reducer says are owed, raised if the user
    // allowed them (dropped otherwise); a click opens the message.
    use_effect_on(state.alerts.clone(), {
        let (state, navigator) = (state.clone(), navigator.clone());
        move |alerts: &std::rc::Rc<Vec<Alert>>| {
            if alerts.is_empty() {
                return;
            }
            if web_sys::Notification::permission() == web_sys::NotificationPermission::Granted {
                alerts.iter().for_each(|alert| raise(alert, &navigator));
            }
            state.dispatch(ChatAction::Alerted {
                count: alerts.len(),
            });
        }
    });
    // The levels live in this browser.
    use_effect_on(
        (props.user.clone(), state.notify.clone()),
        |(user, levels)| {
            rooms::save_notify(user, levels);
        },
    );
    let title = tab_title(state);
    use_effect_on(title, |title| gloo::utils::document().set_title(title));

    let sign_out = sign_out(session);
    let (toggle_drawer, drawer_keys, drawer_clicks) = drawer_callbacks(&drawer);
    let me = state.me.clone().unwrap_or_else(|| props.user.clone());
    let room = state.current_room();
    let (heading, body) = match (&wanted, room) {
        (Some(Err(rule)), _) => (
            tr(T::NoSuchRoom).to_owned(),
            html! { <p class="notice" role="alert">{ t::not_a_room(rule) }</p> },
        ),
        (_, None) => (
            tr(T::Product).to_owned(),
            html! { <p class="empty-room">{ tr(T::Connecting) }</p> },
        ),
        (_, Some(room)) => (
            format!("#{}", room.name),
            room_view(
                &chat,
                room,
                &draft,
                &moderation_form,
                props.highlight,
                &navigator,
            ),
        ),
    };

    html! {
        <div class="chat" data-drawer={(*drawer).then_some("open")} onkeydown={drawer_keys}
            onclick={drawer_clicks}>
            { sidebar(&sidebar_state, &state.rooms, state.current.as_deref(), &leave) }
            // The backdrop is the drawer's close button (its × drawn by
            // the style sheet at the drawer's edge).
            if *drawer {
                <button class="drawer-close" aria-label={tr(T::CloseRooms)}></button>
            }
            <main class="room">
                { topbar(&Bar {
                    chat: &chat,
                    room,
                    heading,
                    drawer: *drawer,
                    toggle_drawer,
                    moderation_form: &moderation_form,
                    permission: &permission,
                    account_state: &account_state,
                    me: &me,
                    sign_out: &sign_out,
                }) }
                { notice_bar(state) }
                // Search results stand in for the room while open.
                if state.search.asked.is_some() {
                    { search_panel(&chat, state.current.as_deref(), &navigator) }
                } else {
                    { body }
                }
            </main>
            { switcher(&joined, state.current.as_deref(), &go) }
        </div>
    }
}

/// Leaves a room; leaving the room on screen moves to another (it once
/// left "Connecting…" up for good, under the old address and title).
fn leave_callback(chat: &ChatHandle, navigator: &Navigator) -> Callback<String> {
    let state = &chat.state;
    let (leave, navigator) = (chat.leave.clone(), navigator.clone());
    let next = state.current.as_deref().map(|current| {
        (
            current.to_owned(),
            rooms::after_leaving(&state.rooms, current).map(str::to_owned),
        )
    });
    Callback::from(move |room: String| {
        if let Some((_, next)) = next.as_ref().filter(|(current, _)| *current == room) {
            navigator.push(
                &next
                    .clone()
                    .map_or(Route::Home, |room| Route::Room { room }),
            );
        }
        leave.emit(room);
    })
}

/// The drawer's button, and how it closes on a phone: from its
/// backdrop, its close button, Escape from anywhere, or a room chosen in
/// it (the one on screen too, which changes no address).
fn drawer_callbacks(
    drawer: &UseStateHandle<bool>,
) -> (
    Callback<MouseEvent>,
    Callback<KeyboardEvent>,
    Callback<MouseEvent>,
) {
    let toggle_drawer = {
        let drawer = drawer.clone();
        Callback::from(move |_| drawer.set(!*drawer))
    };
    let drawer_keys = {
        let drawer = drawer.clone();
        Callback::from(move |e: KeyboardEvent| {
            if *drawer && e.key() == "Escape" {
                drawer.set(false);
            }
        })
    };
    let drawer_clicks = {
        let drawer = drawer.clone();
        Callback::from(move |e: MouseEvent| {
            let target = e.target_unchecked_into::<web_sys::Element>();
            if *drawer
                && target
                    .closest(".drawer-close, .sidebar a")
                    .ok()
                    .flatten()
                    .is_some()
            {
                drawer.set(false);
            }
        })
    };
    (toggle_drawer, drawer_keys, drawer_clicks)
}

/// Signs out: forgotten by the server too, signed out here whatever it
/// says.
fn sign_out(session: SessionHandle) -> Callback<()> {
    Callback::from(move |()| {
        let session = session.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = crate::api::call("DELETE", "/api/session", None).await;
            crate::session::forget_this_browser();
            gloo::utils::document().set_title(tr(T::SignedOutTitle));
            session.dispatch(SessionAction::SignedOut(tr(T::YouSignedOut).into()));
        });
    })
}

// The helpers below are ChatView's, each called once: `#[inline(always)]`
// puts them back into it as the compiler had the code before they were
// taken out (as separate functions they cost 0.5 KB gzip, measured at
// 2026-12-07).

/// What the room's top bar shows and acts with.
struct Bar<'a> {
    chat: &'a ChatHandle,
    room: Option<&'a RoomState>,
    heading: String,
    drawer: bool,
    toggle_drawer: Callback<MouseEvent>,
    moderation_form: &'a ModerationForm,
    permission: &'a UseStateHandle<web_sys::NotificationPermission>,
    account_state: &'a AccountState,
    me: &'a str,
    sign_out: &'a Callback<()>,
}

/// The room's top bar: the rooms drawer's button, the room's name, the
/// connection, then the menus (a row of their own on a phone: the bar's
/// height then stays put as the room loads).
#[inline(always)]
fn topbar(bar: &Bar<'_>) -> Html {
    let Bar { chat, room, .. } = *bar;
    let state = &chat.state;
    let moderate_person = {
        let form = bar.moderation_form.clone();
        Callback::from(move |name: String| form.open_for(&name))
    };
    let on_level = |room: &RoomState| {
        let (state, room) = (state.clone(), room.name.clone());
        Callback::from(move |level| {
            state.dispatch(ChatAction::SetNotify {
                room: room.clone(),
                level,
            });
        })
    };
    html! {
        <header class="topbar">
            <button class="drawer-toggle" onclick={bar.toggle_drawer.clone()}
                aria-expanded={bar.drawer.to_string()}>
                { match state.rooms.iter().map(|room| room.unread).sum::<u32>() {
                    0 => tr(T::Rooms).to_owned(),
                    unread => t::rooms_unread(u64::from(unread)),
                } }
            </button>
            <h1>{ bar.heading.clone() }</h1>
            { status(&state.connection, state.now, &chat.reconnect_now) }
            <div class="bar-menus">
                { search_field(chat, room.map(|room| room.name.as_str())) }
                // Offline, nobody is known to be online: no list, rather
                // than "0 online".
                if let (true, Some(room)) = (state.online(), room) {
                    { people(&room.people.online_users, &room.people.members,
                        room.people.online_count,
                        state.me.as_deref(),
                        (room.moderator || state.admin).then_some(&moderate_person)) }
                }
                if let Some(room) = room {
                    { room_menu(&room.name, state.notify_level(&room.name), &on_level(room),
                        bar.permission) }
                    { moderation_of(chat, room, bar.moderation_form) }
                }
                { account(bar.account_state, bar.me, state.claimed, bar.sign_out) }
            </div>
        </header>
    }
}

/// Opens a room (the switcher's choice).
#[inline(always)]
fn go_to_room(navigator: &Navigator) -> Callback<String> {
    let navigator = navigator.clone();
    Callback::from(move |room| navigator.push(&Route::Room { room }))
}

/// The notice the chat has for the user (an error, a refusal), until
/// dismissed.
#[inline(always)]
fn notice_bar(state: &UseReducerHandle<Chat>) -> Html {
    let Some(notice) = state.notice.clone() else {
        return Html::default();
    };
    let dispatcher = state.dispatcher();
    let dismiss = Callback::from(move |_| dispatcher.dispatch(ChatAction::DismissNotice));
    html! {
        <div class="notice" role="alert">
            <span>{ notice }</span>
            <button class="dismiss" onclick={dismiss} aria-label={tr(T::Dismiss)}>{ "×" }</button>
        </div>
    }
}

/// The room's moderation menu, for its moderators and the admins.
#[inline(always)]
fn moderation_of(chat: &ChatHandle, room: &RoomState, form: &ModerationForm) -> Html {
    if !(room.moderator || chat.state.admin) {
        return Html::default();
    }
    let name = room.name.clone();
    moderation_menu(
        &room.name,
        Moderation {
            admin: chat.state.admin,
            locked: room.rules.locked,
            on_act: chat.change.reform(move |change| (name.clone(), 0, change)),
            form: form.clone(),
        },
    )
}

/// A moderator's `action` on a message.
fn on_message(action: ModAction) -> MessageChange {
    MessageChange::Moderate {
        action,
        target: None,
        duration_s: None,
        reason: None,
        all_rooms: false,
    }
}

/// The room's pinned messages, newest pin first, each a link to it (with
/// its author and first line once loaded; a deleted one is left out), and
/// for a moderator (`on_unpin`), a button to unpin it.
fn pinned_bar(room: &RoomState, navigator: &Navigator, on_unpin: Option<Callback<u64>>) -> Html {
    let item = |&id: &u64| {
        let loaded = room
            .messages
            .entries
            .iter()
            .find(|entry| entry.message.id == id);
        if loaded.is_some_and(|entry| entry.message.deleted) {
            return Html::default();
        }
        let text = loaded.map_or_else(
            || tr(T::APinnedMessage).to_owned(),
            |entry| {
                format!(
                    "{}: {}",
                    entry.message.user,
                    protocol::excerpt(&entry.message.msg)
                )
            },
        );
        let to = Route::Message {
            room: room.name.clone(),
            id,
        };
        html! {
            <li>
                { route_link(navigator, to, None, false, html! { {text} }) }
                if let Some(on_unpin) = &on_unpin {
                    <button class="unpin" aria-label={tr(T::Unpin)} onclick={on_unpin.reform(move |_| id)}>
                        { "✕" }
                    </button>
                }
            </li>
        }
    };
    if room.rules.pinned.is_empty() {
        return Html::default();
    }
    html! {
        <ul class="pinned" aria-label={tr(T::PinnedMessages)}>
            { for room.rules.pinned.iter().rev().map(item) }
        </ul>
    }
}

/// The room on screen: its messages, who is typing, and the composer (or
/// why there is none). A plain function of the view's state: no component
/// type of its own (each costs the client about 0.65 KB).
fn room_view(
    chat: &ChatHandle,
    room: &RoomState,
    draft: &UseStateHandle<(Option<String>, Draft)>,
    moderation_form: &ModerationForm,
    highlight: Option<u64>,
    navigator: &Navigator,
) -> Html {
    let state = &chat.state;
    let name = room.name.clone();
    let outbox: Vec<_> = state
        .outbox
        .iter()
        .filter(|o| state.room_of(o) == Some(name.as_str()))
        .cloned()
        .collect();
    let on_send = chat.post.reform({
        let name = name.clone();
        move |(msg, reply_to)| (name.clone(), msg, reply_to)
    });
    let on_edit = chat.change.reform({
        let name = name.clone();
        move |(id, msg)| (name.clone(), id, MessageChange::Edit(msg))
    });
    // What the composer writes for, kept with the room's draft.
    let set_draft = {
        let (draft, name) = (draft.clone(), name.clone());
        Callback::from(move |mode: Draft| {
            drafts::save_mode(&name, &mode);
            draft.set((Some(name.clone()), mode));
        })
    };
    let on_cancel = set_draft.reform(|()| Draft::New);
    let on_edit_last = {
        let draft = set_draft.clone();
        let last_own = room
            .messages
            .entries
            .iter()
            .rev()
            .find(|entry| entry.own && !entry.message.deleted)
            .map(|entry| (entry.message.id, entry.message.msg.clone()));
        Callback::from(move |()| {
            if let Some((id, original)) = last_own.clone() {
                draft.emit(Draft::Edit { id, original });
            }
        })
    };
    let names = std::rc::Rc::new(
        room.people
            .online_users
            .iter()
            .filter(|name| state.me.as_deref() != Some(name.as_str()))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let on_action = {
        let draft = set_draft;
        let change = chat.change.clone();
        let name = name.clone();
        let moderation_form = moderation_form.clone();
        Callback::from(move |action| match action {
            MessageAction::Reply(entry) => draft.emit(Draft::Reply {
                id: entry.message.id,
                user: entry.message.user.clone(),
                excerpt: protocol::excerpt(&entry.message.msg),
            }),
            MessageAction::Edit(entry) => draft.emit(Draft::Edit {
                id: entry.message.id,
                original: entry.message.msg.clone(),
            }),
            MessageAction::Delete { id, own: true } => {
                change.emit((name.clone(), id, MessageChange::Delete));
            }
            MessageAction::Delete { id, own: false } => {
                change.emit((name.clone(), id, on_message(ModAction::Delete)));
            }
            MessageAction::Pin(id) => change.emit((name.clone(), id, on_message(ModAction::Pin))),
            MessageAction::React { id, emoji, on } => {
                change.emit((name.clone(), id, MessageChange::React { emoji, on }));
            }
            MessageAction::Moderate(author) => moderation_form.open_for(&author),
        })
    };
    let on_typing = chat.typing.reform({
        let name = name.clone();
        move |()| name.clone()
    });
    let on_load_older = chat.load_older.reform({
        let name = name.clone();
        move |()| name.clone()
    });
    let on_unpin = chat.change.reform({
        let name = name.clone();
        move |id| (name.clone(), id, on_message(ModAction::Unpin))
    });
    html! {
        <>
            { pinned_bar(room, navigator, room.moderator.then_some(on_unpin)) }
            <MessageList
                key={name.clone()}
                room={name.clone()}
                entries={room.messages.entries.clone()}
                outbox={std::rc::Rc::new(outbox)}
                presence_notices={room.people.notices.clone()}
                has_older={room.messages.has_older}
                retain_days={state.retain_days}
                loading_older={room.messages.loading_older}
                new_since={room.new_since}
                highlight={highlight}
                editing={match &**draft {
                    (Some(of), Draft::Edit { id, .. }) if *of == name => Some(*id),
                    _ => None,
                }}
                {on_load_older}
                on_retry={chat.retry.clone()}
                on_discard={chat.discard.clone()}
                me={state.me.clone()}
                can_act={state.room(&name).is_some_and(|room| state.online() && room.joining == Joining::Joined)}
                moderator={room.moderator}
                {on_action}
            />
            <p class="typing" aria-live="polite">
                { typing_line(&room.people.typing_users(state.me.as_deref()), &room.people.members) }
            </p>
            // Who may not post here sees why, and until when,
            // where the composer would be.
            if let Some(why) = silenced(room, state.admin, state.now) {
                <p class="composer-closed" role="status">{ why }</p>
            } else {
                if room.rules.locked {
                    <p class="locked" role="status">{ tr(T::RoomLocked) }</p>
                }
                // One per room (keyed): its text is the room's own.
                <Composer key={name.clone()} room={name.clone()} online={state.online()}
                    draft={match &**draft {
                        (Some(of), mode) if *of == name => mode.clone(),
                        _ => drafts::load_mode(&name),
                    }} {names} {on_send} {on_edit}
                    {on_cancel} {on_edit_last} {on_typing} />
            }
        </>
    }
}

/// Shows `alert` as a desktop notification; a click brings the page back
/// at the message.
fn raise(alert: &Alert, navigator: &Navigator) {
    let options = web_sys::NotificationOptions::new();
    options.set_body(&alert.text);
    options.set_tag(&format!("{}-{}", alert.room, alert.id));
    let title = t::notification_title(&alert.user, &alert.room);
    let Ok(notification) = web_sys::Notification::new_with_options(&title, &options) else {
        return;
    };
    let navigator = navigator.clone();
    let permalink = Route::Message {
        room: alert.room.clone(),
        id: alert.id,
    };
    gloo::events::EventListener::once(&notification, "click", move |_| {
        let _ = gloo::utils::window().focus();
        navigator.push(&permalink);
    })
    .forget();
}

/// Why we may not post in `room` at `now`, if we may not: muted (until
/// when, by whom, why), or the room is locked and we do not moderate it.
fn silenced(room: &RoomState, admin: bool, now: f64) -> Option<String> {
    if let Some(mute) = room.muted.as_ref().filter(|mute| mute.holds(now)) {
        let when = match (mute.until, mute.minutes_left(now)) {
            (Some(until), Some(minutes)) => {
                let at = js_sys::Date::new(&until.into());
                let locale = Lang::current().tag();
                let time = at.to_locale_time_string_with_options(locale, &short_time());
                t::muted_until(&String::from(time), minutes.max(0) as u64)
            }
            _ => tr(T::ForGood).to_owned(),
        };
        let room = &room.name;
        return Some(match (&mute.by, &mute.reason) {
            (Some(by), Some(reason)) => t::muted_by_because(room, &when, by, reason),
            (Some(by), None) => t::muted_by(room, &when, by),
            (None, _) => t::muted(room, &when),
        });
    }
    (room.rules.locked && !room.moderator && !admin).then(|| t::room_locked_for(&room.name))
}

/// `(3) #lobby · Chat`: the unread count while the tab is hidden or other
/// rooms have unread messages.
fn tab_title(state: &Chat) -> String {
    let room = state
        .current
        .as_deref()
        .map(|room| format!("#{room} · "))
        .unwrap_or_default();
    let product = tr(T::Product);
    match state.unread_total() {
        0 => format!("{room}{product}"),
        unread => format!("({unread}) {room}{product}"),
    }
}

/// "alice is typing…", "alice and bob are typing…", "3 people are typing…",
/// claimed names (`members`) marked.
fn typing_line(users: &[&str], members: &[String]) -> Html {
    let name = |user: &str| {
        html! { <>{ user.to_owned() }{ member_mark(members.iter().any(|member| member == user)) }</> }
    };
    match users {
        [] => Html::default(),
        [one] => html! { <>{ name(one) }{ tr(T::IsTyping) }</> },
        [one, two] => {
            html! { <>{ name(one) }{ tr(T::TypingAnd) }{ name(two) }{ tr(T::AreTyping) }</> }
        }
        many => html! { { t::people_typing(many.len() as u64) } },
    }
}
