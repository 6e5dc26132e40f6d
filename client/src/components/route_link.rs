//! A link to one of the app's routes: an `<a href>` that the router takes
//! over on a plain click (a click with a modifier key opens a tab, as for
//! any link).

use yew::prelude::*;

use crate::router::{use_navigator, Route};

#[derive(Properties, PartialEq)]
pub struct RouteLinkProps {
    pub to: Route,
    #[prop_or_default]
    pub class: Option<AttrValue>,
    #[prop_or_default]
    pub children: Html,
}

#[component]
pub fn RouteLink(props: &RouteLinkProps) -> Html {
    let navigator = use_navigator();
    let onclick = {
        let to = props.to.clone();
        Callback::from(move |e: MouseEvent| {
            if e.meta_key() || e.ctrl_key() || e.shift_key() || e.alt_key() {
                return;
            }
            e.prevent_default();
            navigator.push(&to);
        })
    };
    html! {
        <a class={props.class.clone()} href={props.to.to_path()} {onclick}>
            { props.children.clone() }
        </a>
    }
}
