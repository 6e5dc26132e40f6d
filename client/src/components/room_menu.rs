//! A room's menu: when it raises desktop notifications (every message,
//! mentions only, nothing; kept per browser), and the one place that asks
//! the browser for permission to raise them: never on page load, only
//! when the user presses the button. For its moderators, the room's
//! moderation: lock it, and act on a name (mute, kick, ban, ...; an admin
//! also makes moderators).

use protocol::{ModAction, REASON_MAX_CHARS};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    HtmlDetailsElement, HtmlElement, HtmlInputElement, HtmlSelectElement, Notification,
    NotificationPermission,
};
use yew::prelude::*;

use crate::socket::MessageChange;
use crate::state::rooms::Notify;

/// The moderation part of the menu, for a moderator of the room.
pub struct Moderation {
    pub admin: bool,
    pub locked: bool,
    /// Sends a moderator's action to the room.
    pub on_act: Callback<MessageChange>,
    pub form: ModerationForm,
}

/// The fields of the moderation form, kept by the page.
#[derive(Clone)]
pub struct ModerationForm {
    /// The room's menu, opened at the form from a person's menu.
    menu: NodeRef,
    target: NodeRef,
    action: NodeRef,
    minutes: NodeRef,
    reason: NodeRef,
}

#[hook]
pub fn use_moderation_form() -> ModerationForm {
    ModerationForm {
        menu: use_node_ref(),
        target: use_node_ref(),
        action: use_node_ref(),
        minutes: use_node_ref(),
        reason: use_node_ref(),
    }
}

impl ModerationForm {
    /// Opens the room's menu at the form with `name` filled in, the action
    /// to choose next: what a person's menu (in the online list, or a
    /// message's) does for a moderator.
    pub fn open_for(&self, name: &str) {
        if let Some(menu) = self.menu.cast::<HtmlDetailsElement>() {
            menu.set_open(true);
        }
        if let Some(target) = self.target.cast::<HtmlInputElement>() {
            target.set_value(name);
        }
        if let Some(action) = self.action.cast::<HtmlElement>() {
            let _ = action.focus();
        }
    }
}

/// What a name can be done to (the last four by admins only), whether
/// about every room, and how the form says it. Kicks and bans reach
/// beyond the room: moderators of every room take them.
const PERSON_ACTIONS: [(ModAction, bool, &str); 11] = [
    (ModAction::Mute, false, "Mute"),
    (ModAction::Unmute, false, "Unmute"),
    (ModAction::Kick, false, "Kick"),
    (
        ModAction::Ban,
        false,
        "Ban (the name, and a guest's browser)",
    ),
    (ModAction::Unban, false, "Lift a ban"),
    (ModAction::Purge, false, "Remove all their messages here"),
    (
        ModAction::BanAddress,
        false,
        "Ban guests from their address (for the minutes given)",
    ),
    (ModAction::Grant, false, "Make moderator of this room"),
    (
        ModAction::Revoke,
        false,
        "Take back moderation of this room",
    ),
    (ModAction::Grant, true, "Make moderator of every room"),
    (
        ModAction::Revoke,
        true,
        "Take back moderation of every room",
    ),
];

/// The menu of `room`, notifying at `level`; `permission` is the browser's
/// answer so far, kept by the page (a function, not a component: each
/// component type costs the client about 0.65 KB).
pub fn room_menu(
    room: &str,
    level: Notify,
    on_level: &Callback<Notify>,
    permission: &UseStateHandle<NotificationPermission>,
    moderation: Option<Moderation>,
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
        let id = format!(
            "notify-{}",
            level.label().replace(' ', "-").to_ascii_lowercase()
        );
        html! {
            <label for={id.clone()}>
                <input type="radio" name="notify" {id} checked={current == level}
                    onchange={choose} />
                { level.label() }
            </label>
        }
    });
    let menu_ref = moderation
        .as_ref()
        .map(|moderation| moderation.form.menu.clone())
        .unwrap_or_default();
    html! {
        <details class="room-menu" ref={menu_ref}>
            <summary>{ "Notifications" }</summary>
            <div class="room-menu-body">
                <fieldset>
                    <legend>{ format!("Notify me in #{room} about") }</legend>
                    { for choices }
                </fieldset>
                { match **permission {
                    NotificationPermission::Granted => html! {
                        <p class="hint">{ "Desktop notifications are on for this browser." }</p>
                    },
                    NotificationPermission::Denied => html! {
                        <p class="hint">{ "This browser blocks notifications from this site: allow them in its site settings." }</p>
                    },
                    _ => html! {
                        <button class="allow-notifications" onclick={ask}>
                            { "Allow desktop notifications" }
                        </button>
                    },
                } }
                { moderation.map(|moderation| moderation_form(room, moderation)).unwrap_or_default() }
            </div>
        </details>
    }
}

fn moderation_form(room: &str, moderation: Moderation) -> Html {
    let Moderation {
        admin,
        locked,
        on_act,
        form,
    } = moderation;
    let act = |(action, all_rooms): (ModAction, bool),
               target: Option<String>,
               minutes: Option<u64>,
               reason: String| MessageChange::Moderate {
        action,
        target,
        duration_s: minutes.map(|minutes| minutes.saturating_mul(60)),
        reason: (!reason.trim().is_empty()).then(|| reason.trim().to_owned()),
        all_rooms,
    };
    let lock = {
        let on_act = on_act.clone();
        let action = if locked {
            ModAction::Unlock
        } else {
            ModAction::Lock
        };
        Callback::from(move |_: MouseEvent| {
            on_act.emit(act((action, false), None, None, String::new()));
        })
    };
    let onsubmit = {
        let form = form.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let field = |node: &NodeRef| {
                node.cast::<HtmlInputElement>()
                    .map(|input| input.value())
                    .unwrap_or_default()
            };
            let chosen = form
                .action
                .cast::<HtmlSelectElement>()
                .and_then(|select| usize::try_from(select.selected_index()).ok())
                .and_then(|at| PERSON_ACTIONS.get(at));
            let Some(&(action, all_rooms, _)) = chosen else {
                return;
            };
            let target = field(&form.target).trim().to_owned();
            if target.is_empty() {
                return;
            }
            let minutes = field(&form.minutes).trim().parse().ok().filter(|&m| m > 0);
            on_act.emit(act(
                (action, all_rooms),
                Some(target),
                minutes,
                field(&form.reason),
            ));
        })
    };
    // The admins' come last: without them, an index is still the table's.
    let shown = if admin { PERSON_ACTIONS.len() } else { 7 };
    let options = PERSON_ACTIONS[..shown]
        .iter()
        .map(|(_, _, label)| html! { <option>{ *label }</option> });
    html! {
        <form class="moderation" {onsubmit}>
            <fieldset>
                <legend>{ format!("Moderate #{room}") }</legend>
                <button type="button" class="lock" onclick={lock}>
                    { if locked { "Unlock the room" } else { "Lock the room" } }
                </button>
                <label for="mod-target">{ "Name" }</label>
                <input id="mod-target" ref={form.target} autocomplete="off" />
                <label for="mod-action">{ "Action" }</label>
                <select id="mod-action" ref={form.action}>{ for options }</select>
                <label for="mod-minutes">{ "For how many minutes (empty: for good)" }</label>
                <input id="mod-minutes" ref={form.minutes} type="number" min="1" />
                <label for="mod-reason">{ "Reason, for them" }</label>
                <input id="mod-reason" ref={form.reason} maxlength={REASON_MAX_CHARS.to_string()} />
                <button type="submit" class="apply">{ "Apply" }</button>
            </fieldset>
        </form>
    }
}
