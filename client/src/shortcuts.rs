//! The page's keys, wherever focus is: `Ctrl+K` (`Cmd+K`) opens the room
//! switcher, `Ctrl+Shift+F` (Ctrl on a Mac too: there `Cmd+Shift+F` is
//! the browser's full screen) focuses the search field, `Alt+Up` and
//! `Alt+Down` go to the previous or next joined room (the sidebar's
//! order), `Escape` marks the room on screen read. Not `/`: outside a text
//! field it is Firefox's quick find.
//! (The message list has keys of its own: `message_list::list_keys`.)

use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::components::search::focus_field;
use crate::components::switcher::open_switcher;
use crate::effects::use_effect_undone;
use crate::router::{Navigator, Route};
use crate::state::{Chat, ChatAction};

/// The room `step` away from `current` in `rooms` (none past either end).
pub fn neighbour<'a>(rooms: &'a [String], current: Option<&str>, step: isize) -> Option<&'a str> {
    let at = rooms
        .iter()
        .position(|room| Some(room.as_str()) == current)?;
    let next = at.checked_add_signed(step)?;
    rooms.get(next).map(String::as_str)
}

#[hook]
pub fn use_shortcuts(
    rooms: Vec<String>,
    current: Option<String>,
    navigator: Navigator,
    dispatcher: UseReducerDispatcher<Chat>,
) {
    use_effect_undone((rooms, current), move |(rooms, current)| {
        let (rooms, current) = (rooms.clone(), current.clone());
        // Before the page's own handlers see the key (the browser's
        // Ctrl+K would focus its address bar).
        let options = EventListenerOptions::enable_prevent_default();
        let listener = EventListener::new_with_options(
            &gloo::utils::document(),
            "keydown",
            options,
            move |event| {
                let Some(e) = event.dyn_ref::<web_sys::KeyboardEvent>() else {
                    return;
                };
                let key = e.key();
                if (e.ctrl_key() || e.meta_key()) && !e.alt_key() && key.eq_ignore_ascii_case("k") {
                    e.prevent_default();
                    open_switcher();
                } else if e.ctrl_key()
                    && e.shift_key()
                    && !e.alt_key()
                    && key.eq_ignore_ascii_case("f")
                {
                    e.prevent_default();
                    focus_field();
                } else if e.alt_key() && (key == "ArrowUp" || key == "ArrowDown") {
                    let step = if key == "ArrowUp" { -1 } else { 1 };
                    if let Some(room) = neighbour(&rooms, current.as_deref(), step) {
                        e.prevent_default();
                        navigator.push(&Route::Room {
                            room: room.to_owned(),
                        });
                    }
                } else if key == "Escape" {
                    dispatcher.dispatch(ChatAction::MarkRead);
                }
            },
        );
        move || drop(listener)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_and_previous_rooms_stop_at_the_ends() {
        let rooms: Vec<String> = ["lobby", "rust", "闲聊"].map(str::to_owned).to_vec();
        assert_eq!(neighbour(&rooms, Some("rust"), 1), Some("闲聊"));
        assert_eq!(neighbour(&rooms, Some("rust"), -1), Some("lobby"));
        assert_eq!(neighbour(&rooms, Some("lobby"), -1), None);
        assert_eq!(neighbour(&rooms, Some("闲聊"), 1), None);
        assert_eq!(neighbour(&rooms, None, 1), None);
    }
}
