//! A link to one of the app's routes: an `<a href>` that the router takes
//! over on a plain click (a click with a modifier key opens a tab, as for
//! any link). A function of the caller's navigator, not a component: there
//! is one on every message, and each component type costs the client about
//! 0.65 KB.

use yew::prelude::*;

use crate::router::{Navigator, Route};

/// `in_list`: inside a message, out of the tab order (the message list is
/// one tab stop; see `message_list::list_keys`).
pub fn route_link(
    navigator: &Navigator,
    to: Route,
    class: Option<&'static str>,
    in_list: bool,
    children: Html,
) -> Html {
    let href = to.to_path();
    let onclick = {
        let navigator = navigator.clone();
        Callback::from(move |e: MouseEvent| {
            if e.meta_key() || e.ctrl_key() || e.shift_key() || e.alt_key() {
                return;
            }
            e.prevent_default();
            navigator.push(&to);
        })
    };
    html! {
        <a {class} {href} {onclick} tabindex={in_list.then_some("-1")}>{ children }</a>
    }
}
