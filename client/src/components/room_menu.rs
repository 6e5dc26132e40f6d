//! A room's menu: when it raises desktop notifications (every message,
//! mentions only, nothing; kept per browser), and the one place that asks
//! the browser for permission to raise them: never on page load, only
//! when the user presses the button. (Moderation has a menu of its own:
//! `moderation`.)

use crate::i18n::{t, tr, T};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{Notification, NotificationPermission};
use yew::prelude::*;

use crate::components::menu::menu;
use crate::state::rooms::Notify;

/// The menu of `room`, notifying at `level`; `permission` is the browser's
/// answer so far, kept by the page (a function, not a component: each
/// component type costs the client about 0.65 KB).
// `NotificationPermission` is web-sys's, and non-exhaustive: a new answer
// of the browser's reads as "not asked yet".
#[allow(clippy::wildcard_enum_match_arm)]
pub fn room_menu(
    room: &str,
    level: Notify,
    on_level: &Callback<Notify>,
    permission: &UseStateHandle<NotificationPermission>,
) -> Html {
    let ask = {
        let permission = permission.clone();
        Callback::from(move |_: MouseEvent| {
            let permission = permission.clone();
            let Ok(asked) = Notification::request_permission() else {
                return;
            };
            spawn_local(async move {
                let _ = JsFuture::from(asked).await;
                permission.set(Notification::permission());
            });
        })
    };
    let current = level;
    let choices = Notify::ALL.iter().map(|&level| {
        let choose = on_level.reform(move |_: Event| level);
        let id = format!("notify-{}", level.wire());
        html! {
            <label for={id.clone()}>
                <input type="radio" name="notify" {id} checked={current == level}
                    onchange={choose} />
                { tr(match level {
                    Notify::All => T::NotifyAll,
                    Notify::Mentions => T::NotifyMentions,
                    Notify::Nothing => T::NotifyNothing,
                }) }
            </label>
        }
    });
    let body = html! {
            <>
                <fieldset>
                    <legend>{ t::notify_me_in(room) }</legend>
                    { for choices }
                </fieldset>
                { match **permission {
                    NotificationPermission::Granted => html! {
                        <p class="hint">{ tr(T::NotificationsOn) }</p>
                    },
                    NotificationPermission::Denied => html! {
                        <p class="hint">{ tr(T::NotificationsBlocked) }</p>
                    },
                    _ => html! {
                        <button class="allow-notifications" onclick={ask}>
                            { tr(T::AllowNotifications) }
                        </button>
                    },
                } }
            </>
    };
    menu(
        "room-menu",
        "notify-menu",
        html! { tr(T::Notifications) },
        None,
        None,
        body,
    )
}
