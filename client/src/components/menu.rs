//! The top bar's menus (online people, notifications, moderation, the
//! name's menu) as the browser's own popovers (`popover="auto"`): one open
//! at a time, closed by a click elsewhere or by Escape from anywhere inside,
//! focus back on the button that opened it, and placed by the style sheet
//! (under the button, or a sheet at the bottom of a phone). None of that
//! is code of ours: the client only closes them when the room changes
//! (`close_menus`).

use wasm_bindgen::JsCast;
use web_sys::HtmlElement;
use yew::prelude::*;

/// A menu: `label` on its button, `body` in the popover `id`; `class` names
/// the whole (the style sheet's and the tests' handle). `on_open` runs each
/// time it opens (to read what it lists then, not on every page load).
pub fn menu(
    class: &'static str,
    id: &'static str,
    label: Html,
    title: Option<&'static str>,
    on_open: Option<Callback<()>>,
    body: Html,
) -> Html {
    let ontoggle = on_open.map(|on_open| {
        Callback::from(move |e: Event| {
            if e.target_unchecked_into::<HtmlElement>()
                .matches(":popover-open")
                .unwrap_or(false)
            {
                on_open.emit(());
            }
        })
    });
    html! {
        <div {class}>
            <button class="menu-button" popovertarget={id} {title}>{ label }</button>
            <div {id} class="menu-body" popover="auto" {ontoggle}>{ body }</div>
        </div>
    }
}

/// Opens the menu `id` (a person's "Moderate" opens the moderation menu).
pub fn open_menu(id: &str) {
    if let Some(menu) = element(id) {
        let _ = menu.show_popover();
    }
}

/// Closes whatever menu is open: the page moved to another room.
pub fn close_menus() {
    if let Ok(Some(open)) = gloo::utils::document().query_selector(":popover-open") {
        if let Ok(open) = open.dyn_into::<HtmlElement>() {
            let _ = open.hide_popover();
        }
    }
}

fn element(id: &str) -> Option<HtmlElement> {
    gloo::utils::document()
        .get_element_by_id(id)
        .and_then(|el| el.dyn_into().ok())
}
