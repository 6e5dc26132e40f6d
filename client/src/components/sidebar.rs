//! The rooms: those this browser joined, with unread counts, a field to
//! join or create one by name, and a directory of the rooms that exist. On
//! a phone-sized screen it is a drawer.

use std::rc::Rc;

use crate::effects::use_state_with;
use crate::i18n::{t, tr, T};
use crate::router::use_navigator;
use protocol::validate_room_with;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::route_link::route_link;
use crate::router::Navigator;
use crate::router::Route;
use crate::state::rooms::RoomState;

/// The sidebar's own state, kept by the page: the sidebar is a function,
/// not a component (each component type costs the client about 0.65 KB).
pub struct SidebarState {
    navigator: Navigator,
    input: NodeRef,
    /// Why the name in the join field is not a room name.
    error: UseStateHandle<Option<String>>,
    listed: UseStateHandle<Directory>,
}

#[hook]
pub fn use_sidebar() -> SidebarState {
    SidebarState {
        navigator: use_navigator(),
        input: use_node_ref(),
        error: use_state_with(|| None),
        listed: use_state_with(|| None),
    }
}

/// A room name as the server keys it: trimmed, in NFC, lower case (the
/// browser's Unicode tables, which the client need not carry). `None` with
/// the rule it breaks.
pub fn canonical_room(raw: &str) -> Result<String, String> {
    let composed = String::from(js_sys::JsString::from(raw.trim()).normalize("NFC"));
    let checked = validate_room_with(&composed, crate::lower::is_alphanumeric)
        .map_err(crate::i18n::room_error)?;
    let lower = js_sys::JsString::from(checked).to_lower_case();
    Ok(String::from(lower.normalize("NFC")))
}

/// The joined `rooms` (`current` on screen; `on_leave` leaves one), the
/// join field and the directory.
pub fn sidebar(
    state: &SidebarState,
    rooms: &Rc<Vec<RoomState>>,
    current: Option<&str>,
    on_leave: &Callback<String>,
) -> Html {
    let SidebarState {
        navigator,
        input,
        error,
        listed,
    } = state;
    let onsubmit = {
        let navigator = navigator.clone();
        let input = input.clone();
        let error = error.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(field) = input.cast::<HtmlInputElement>() else {
                return;
            };
            match canonical_room(&field.value()) {
                Ok(room) => {
                    field.set_value("");
                    error.set(None);
                    navigator.push(&Route::Room { room });
                }
                Err(rule) => error.set(Some(rule)),
            }
        })
    };
    let rooms = rooms.iter().map(|room| {
        let current = current == Some(room.name.as_str());
        let leave = {
            let on_leave = on_leave.clone();
            let name = room.name.clone();
            Callback::from(move |_| on_leave.emit(name.clone()))
        };
        let label = match (room.unread, room.mentions) {
            (0, _) => t::open_room(&room.name),
            (unread, 0) => t::unread_in(u64::from(unread), &room.name),
            (unread, mentions) => {
                t::unread_mentions_in(u64::from(unread), u64::from(mentions), &room.name)
            }
        };
        html! {
            <li class="room-entry" data-unread={(room.unread > 0).then_some("true")}
                aria-current={current.then_some("page")}>
                { route_link(navigator, Route::Room { room: room.name.clone() }, None, false, html! {
                    <>
                        <span aria-label={label}>{ format!("#{}", room.name) }</span>
                        if room.mentions > 0 {
                            <span class="mentioned" aria-hidden="true" title={tr(T::MentionsOfYou)}>
                                { format!("@{}", room.mentions) }
                            </span>
                        }
                        if room.unread > 0 {
                            <span class="unread" aria-hidden="true">{ room.unread }</span>
                        }
                    </>
                }) }
                <button class="leave-room" onclick={leave}
                    aria-label={t::leave_room(&room.name)} title={tr(T::Leave)}>{ "×" }</button>
            </li>
        }
    });
    html! {
        <nav class="sidebar" aria-label={tr(T::Rooms)}>
            <h2>{ tr(T::Rooms) }</h2>
            <ul class="room-list">{ for rooms }</ul>
            <form class="join-room" {onsubmit} novalidate=true>
                <label for="join-room">{ tr(T::JoinOrCreate) }</label>
                <div class="join-row">
                    <input ref={input} id="join-room" type="text" placeholder={tr(T::RoomNamePlaceholder)}
                        autocomplete="off" aria-describedby="join-room-help"
                        aria-invalid={error.is_some().to_string()} />
                    <button type="submit">{ tr(T::Join) }</button>
                </div>
                <p id="join-room-help" class="help">
                    { (**error).clone().unwrap_or_else(|| tr(T::RoomRuleShort).to_owned()) }
                </p>
            </form>
            { directory(listed, navigator) }
        </nav>
    }
}

/// One room of `GET /api/rooms`: its name and how many are in it.
type Listed = (String, usize);

/// Reads `GET /api/rooms` with the browser's own `fetch` and `JSON.parse`
/// (an HTTP client and a serde decoder for two fields would cost the
/// client more than the directory itself).
async fn list_rooms() -> Result<Vec<Listed>, String> {
    let failed = |error: JsValue| {
        error
            .as_string()
            .unwrap_or_else(|| tr(T::NoAnswer).to_owned())
    };
    let response = JsFuture::from(gloo::utils::window().fetch_with_str("/api/rooms"))
        .await
        .map_err(failed)?;
    let response: web_sys::Response = response.unchecked_into();
    if !response.ok() {
        return Err(t::server_answered(u64::from(response.status())));
    }
    let rooms = JsFuture::from(response.json().map_err(failed)?)
        .await
        .map_err(failed)?;
    let field = |room: &JsValue, name: &str| js_sys::Reflect::get(room, &name.into()).ok();
    Ok(js_sys::Array::from(&rooms)
        .iter()
        .filter_map(|room| {
            let name = field(&room, "room")?.as_string()?;
            let online = field(&room, "online")?.as_f64()?;
            Some((name, online as usize))
        })
        .collect())
}

/// What the directory shows: nothing read yet, the rooms, or why not.
type Directory = Option<Result<Vec<Listed>, String>>;

/// The rooms that exist, most recently active first, read when opened (a
/// function of the sidebar's state, not a component: each component type
/// costs the client about 0.65 KB).
fn directory(listed: &UseStateHandle<Directory>, navigator: &Navigator) -> Html {
    let ontoggle = {
        let listed = listed.clone();
        Callback::from(move |e: Event| {
            let open = e
                .target_dyn_into::<web_sys::HtmlDetailsElement>()
                .is_some_and(|details| details.open());
            if !open {
                return;
            }
            let listed = listed.clone();
            wasm_bindgen_futures::spawn_local(async move {
                listed.set(Some(list_rooms().await));
            });
        })
    };
    let body = match &**listed {
        None => html! { <p class="help">{ tr(T::Loading) }</p> },
        Some(Err(error)) => {
            html! { <p class="help">{ t::cannot_list_rooms(error) }</p> }
        }
        Some(Ok(rooms)) if rooms.is_empty() => html! { <p class="help">{ tr(T::NoRooms) }</p> },
        Some(Ok(rooms)) => html! {
            <ul class="directory-list">
                { for rooms.iter().map(|(room, online)| html! {
                    <li>
                        { route_link(navigator, Route::Room { room: room.clone() }, None, false,
                            html! { { format!("#{room}") } }) }
                        <span class="count">{ t::here_count(*online as u64) }</span>
                    </li>
                }) }
            </ul>
        },
    };
    html! {
        <details class="directory" {ontoggle}>
            <summary>{ tr(T::BrowseRooms) }</summary>
            { body }
        </details>
    }
}
