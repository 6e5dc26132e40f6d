//! The connection status: online, connecting, or offline with a countdown
//! to the next attempt and a button to try at once.

use crate::i18n::{t, tr, T};
use yew::prelude::*;

use crate::state::Connection;

/// The status of `connection` at `now` (the room's clock, ms since the
/// epoch, ticking while offline); `on_reconnect` reconnects at once. A
/// function, not a component: each component type costs about 0.65 KB.
pub fn status(connection: &Connection, now: f64, on_reconnect: &Callback<()>) -> Html {
    let (state, text) = match connection {
        // Not "Online": next to "2 online" it would read twice.
        Connection::Online => ("online", tr(T::Connected).to_owned()),
        Connection::Connecting => ("connecting", tr(T::Connecting).to_owned()),
        Connection::Offline { retry_at } => ("offline", offline_text(*retry_at, now)),
    };
    let reconnect = on_reconnect.reform(|_: MouseEvent| ());
    html! {
        <span class="status" data-state={state}>
            <span class="dot" aria-hidden="true"></span>
            <span role="status">{ text }</span>
            if matches!(connection, Connection::Offline { .. }) {
                <button class="reconnect" onclick={reconnect}>{ tr(T::ReconnectNow) }</button>
            }
        </span>
    }
}

/// "Offline, retrying in 4 s", counting down to `retry_at` from `now`.
fn offline_text(retry_at: Option<f64>, now: f64) -> String {
    match retry_at {
        Some(retry_at) => {
            // Whole seconds, formatted as an integer: a float's formatting
            // code would cost the client kilobytes.
            let seconds = ((retry_at - now) / 1000.0).ceil().max(0.0) as u32;
            if seconds > 0 {
                t::retrying_in(u64::from(seconds))
            } else {
                tr(T::Retrying).to_owned()
            }
        }
        None => tr(T::Offline).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::offline_text;

    #[test]
    fn the_countdown_counts_down() {
        assert_eq!(
            offline_text(Some(10_000.0), 1_000.0),
            "Offline, retrying in 9 s"
        );
        assert_eq!(
            offline_text(Some(10_000.0), 9_100.0),
            "Offline, retrying in 1 s"
        );
        assert_eq!(offline_text(Some(10_000.0), 10_000.0), "Offline, retrying…");
        assert_eq!(offline_text(Some(10_000.0), 12_000.0), "Offline, retrying…");
        assert_eq!(offline_text(None, 0.0), "Offline");
    }
}
