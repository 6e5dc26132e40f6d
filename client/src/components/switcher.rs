//! The room switcher (`Ctrl+K`, `Cmd+K` on a Mac): a popover of the
//! browser's with a field that suggests the joined rooms; Enter goes to
//! the room typed or the first joined one containing it, and a name no
//! joined room has goes to that room (and joins it). Escape or a click
//! elsewhere closes it, and focus goes back.

use crate::i18n::{tr, T};
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlInputElement};
use yew::prelude::*;

use crate::lower::lower;

const ID: &str = "switcher";

/// Opens the switcher (the page's `Ctrl+K`), its field focused at once
/// (typing right after the keys goes there).
pub fn open_switcher() {
    let document = gloo::utils::document();
    if let Some(switcher) = document
        .get_element_by_id(ID)
        .and_then(|el| el.dyn_into::<HtmlElement>().ok())
    {
        let _ = switcher.show_popover();
    }
    if let Some(field) = document
        .get_element_by_id("switcher-room")
        .and_then(|el| el.dyn_into::<HtmlInputElement>().ok())
    {
        field.set_value("");
        let _ = field.focus();
    }
}

/// The joined `rooms` whose names contain `query` (any case), in their
/// order, the one on screen (`current`) last.
pub fn matching(rooms: &[String], current: Option<&str>, query: &str) -> Vec<String> {
    let query = lower(query.trim().trim_start_matches('#'));
    let (here, others): (Vec<&String>, Vec<&String>) = rooms
        .iter()
        .filter(|room| lower(room).contains(&query))
        .partition(|room| Some(room.as_str()) == current);
    others.into_iter().chain(here).cloned().collect()
}

/// The switcher over the joined `rooms` (`current` on screen); `on_go`
/// goes to a room by name. (A function, not a component: each component
/// type costs the client about 0.65 KB.)
pub fn switcher(rooms: &[String], current: Option<&str>, on_go: &Callback<String>) -> Html {
    let onkeydown = {
        let on_go = on_go.clone();
        let (rooms, current) = (rooms.to_vec(), current.map(str::to_owned));
        Callback::from(move |e: KeyboardEvent| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let typed = input.value();
            let typed = typed.trim().trim_start_matches('#');
            if e.key() != "Enter" || typed.is_empty() {
                return;
            }
            e.prevent_default();
            // A room listed by that name, else the first that contains
            // it, else the room of that name (joined on the way).
            let found = matching(&rooms, current.as_deref(), typed);
            let exact = found.iter().find(|room| lower(room) == lower(typed));
            let room = exact
                .or(found.first())
                .cloned()
                .unwrap_or_else(|| typed.to_owned());
            if let Some(switcher) = gloo::utils::document()
                .get_element_by_id(ID)
                .and_then(|el| el.dyn_into::<HtmlElement>().ok())
            {
                let _ = switcher.hide_popover();
            }
            on_go.emit(room);
        })
    };
    // The browser's own suggestions (a datalist): it filters, and Up and
    // Down choose, as people know from any form.
    html! {
        <div id={ID} class="switcher menu-body" popover="auto" role="dialog" aria-label={tr(T::SwitchRooms)}>
            <label for="switcher-room">{ tr(T::GoToRoom) }</label>
            <input id="switcher-room" type="text" list="switcher-rooms"
                placeholder="#room" autocomplete="off" {onkeydown} />
            <datalist id="switcher-rooms">
                { for rooms.iter().map(|room| html! { <option value={room.clone()} /> }) }
            </datalist>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_match_in_any_case_the_one_on_screen_last() {
        let rooms: Vec<String> = ["lobby", "Rust", "rust-async", "闲聊"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(
            matching(&rooms, Some("Rust"), "rust"),
            ["rust-async", "Rust"]
        );
        assert_eq!(matching(&rooms, None, "#闲"), ["闲聊"]);
        assert_eq!(
            matching(&rooms, Some("lobby"), ""),
            ["Rust", "rust-async", "闲聊", "lobby"]
        );
        assert!(matching(&rooms, None, "go").is_empty());
    }
}
