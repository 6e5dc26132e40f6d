//! The connection status badge.

use yew::prelude::*;

use crate::room_state::Connection;

#[derive(Properties, PartialEq)]
pub struct StatusProps {
    pub connection: Connection,
}

#[component]
pub fn Status(props: &StatusProps) -> Html {
    let (class, text) = match &props.connection {
        Connection::Online => ("online", "Online".to_owned()),
        Connection::Connecting => ("connecting", "Connecting…".to_owned()),
        Connection::Offline { retry_in_ms } => (
            "offline",
            format!("Offline, retrying in {}s", retry_in_ms.div_ceil(1000)),
        ),
    };
    html! {
        <span class="status" role="status" data-state={class}>
            <span class="dot" aria-hidden="true"></span>
            { text }
        </span>
    }
}
