//! The moderation menu, a room's moderators' own (it once sat inside
//! "Notifications"): who is muted here and who is banned, with the time
//! left and a button to lift each; the room's recent actions; the room's
//! lock; and the form that acts on a name (mute, kick, ban, ...; an admin
//! also makes moderators), which starts on no action and asks before what
//! cannot be undone (the browser's own dialog: modal, focused, and it
//! costs the client nothing).
//!
//! The lists come from `GET /api/moderation?room=`, read when the menu
//! opens, with the browser's `JSON` (see `api`).

use protocol::{JsonValue, ModAction, REASON_MAX_CHARS};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlElement, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::api;
use crate::components::menu::{menu, open_menu};
use crate::effects::use_state_with;
use crate::i18n::{t, tr, Lang, T};
use crate::socket::MessageChange;

/// The menu, for a moderator of the room.
pub struct Moderation {
    pub admin: bool,
    pub locked: bool,
    /// Sends a moderator's action to the room.
    pub on_act: Callback<MessageChange>,
    pub form: ModerationForm,
}

/// The menu's state, kept by the page (a function, not a component: each
/// component type costs the client about 0.65 KB).
#[derive(Clone)]
pub struct ModerationForm {
    target: NodeRef,
    action: NodeRef,
    minutes: NodeRef,
    reason: NodeRef,
    /// What the server listed when the menu last opened.
    listing: UseStateHandle<Option<Listing>>,
}

#[hook]
pub fn use_moderation_form() -> ModerationForm {
    ModerationForm {
        target: use_node_ref(),
        action: use_node_ref(),
        minutes: use_node_ref(),
        reason: use_node_ref(),
        listing: use_state_with(|| None),
    }
}

/// A mute or a ban in force.
#[derive(Clone, PartialEq)]
struct Row {
    name: String,
    /// Ms since the epoch; `None`: for good.
    until: Option<f64>,
    /// What a ban covers ("name, browser"); empty for a mute.
    covers: String,
    reason: Option<String>,
}

#[derive(Clone, PartialEq, Default)]
struct Listing {
    mutes: Vec<Row>,
    /// `None` for a moderator of this room alone: bans are lifted by
    /// moderators of every room.
    bans: Option<Vec<Row>>,
    /// The room's actions, newest first, as lines to read.
    audit: Vec<String>,
}

impl ModerationForm {
    /// Opens the menu at the form with `name` filled in, the action to
    /// choose next: what a person's menu (in the online list, or a
    /// message's) does for a moderator.
    pub fn open_for(&self, name: &str) {
        open_menu(MENU_ID);
        if let Some(target) = self.target.cast::<HtmlInputElement>() {
            target.set_value(name);
        }
        if let Some(action) = self.action.cast::<HtmlElement>() {
            let _ = action.focus();
        }
    }

    /// Reads the room's lists again.
    fn refresh(&self, room: &str) {
        let listing = self.listing.clone();
        let path = format!(
            "/api/moderation?room={}",
            String::from(js_sys::encode_uri_component(room))
        );
        spawn_local(async move {
            if let Ok(json) = api::call("GET", &path, None).await {
                listing.set(Some(parse_listing(&json)));
            }
        });
    }
}

fn parse_listing(json: &str) -> Listing {
    let Ok(parsed) = js_sys::JSON::parse(json) else {
        return Listing::default();
    };
    let get = |item: &JsValue, field: &str| js_sys::Reflect::get(item, &field.into()).ok();
    let text = |item: &JsValue, field: &str| get(item, field).and_then(|value| value.as_string());
    let rows = |list: JsValue| -> Vec<Row> {
        js_sys::Array::from(&list)
            .iter()
            .map(|item| {
                let mut covers = String::new();
                for (field, label) in [
                    ("named", T::CoversName),
                    ("browser", T::CoversBrowser),
                    ("address", T::CoversAddress),
                ] {
                    if get(&item, field).and_then(|v| v.as_bool()) == Some(true) {
                        covers.push_str(tr(label));
                        covers.push(' ');
                    }
                }
                Row {
                    name: text(&item, "name").unwrap_or_default(),
                    until: get(&item, "until").and_then(|until| until.as_f64()),
                    covers,
                    reason: text(&item, "reason"),
                }
            })
            .collect()
    };
    let bans = get(&parsed, "bans")
        .filter(|bans| bans.is_object())
        .map(rows);
    let audit = js_sys::Array::from(&get(&parsed, "audit").unwrap_or(JsValue::NULL))
        .iter()
        .filter_map(|entry| {
            let action = text(&entry, "action")?;
            let action = *ModAction::ALL
                .iter()
                .find(|known| known.as_str() == action)?;
            let at = get(&entry, "dateTime")
                .and_then(|at| at.as_f64())
                .unwrap_or(0.0);
            let line = moderation_notice(
                action,
                &text(&entry, "by").unwrap_or_default(),
                text(&entry, "target").as_deref(),
                text(&entry, "reason"),
                false,
            );
            Some(t::audit_line(&local_time(at), &line))
        })
        .collect();
    Listing {
        mutes: rows(get(&parsed, "mutes").unwrap_or(JsValue::NULL)),
        bans,
        audit,
    }
}

/// When a mute or a ban ends, in the browser's locale; `None`: for good.
fn until_text(until: Option<f64>) -> String {
    until.map_or_else(|| tr(T::ForGood).to_owned(), |at| t::until(&local_time(at)))
}

/// A moment (ms since the epoch) in the browser's locale.
fn local_time(at: f64) -> String {
    js_sys::Date::new(&JsValue::from_f64(at))
        .to_locale_string(Lang::current().tag(), &JsValue::UNDEFINED)
        .into()
}

/// How many of `name`'s messages show in `room`, as the server counts
/// them (`None`: it did not say).
async fn messages_of(room: &str, name: &str) -> Option<u64> {
    let path = format!(
        "/api/moderation/messages?room={}&name={}",
        String::from(js_sys::encode_uri_component(room)),
        String::from(js_sys::encode_uri_component(name))
    );
    let answer = api::call("GET", &path, None).await.ok()?;
    crate::json::parse(&answer)?.field("count")?.whole()
}

/// The question an action that cannot be undone asks first, if it is one
/// (`count`: the messages a purge removes, when known).
fn confirmation(
    action: ModAction,
    target: &str,
    room: &str,
    minutes: Option<u64>,
    count: Option<u64>,
) -> Option<String> {
    let how_long = minutes.map_or_else(|| tr(T::ForGood).to_owned(), t::for_minutes);
    match action {
        ModAction::Purge => Some(match count {
            Some(count) => t::purge_count(count, target, room),
            None => t::purge_all(target, room),
        }),
        ModAction::Ban => Some(t::confirm_ban(target, &how_long)),
        ModAction::BanAddress => Some(t::confirm_ban_address(target, &how_long)),
        ModAction::Delete
        | ModAction::Pin
        | ModAction::Unpin
        | ModAction::Mute
        | ModAction::Unmute
        | ModAction::Kick
        | ModAction::Unban
        | ModAction::Lock
        | ModAction::Unlock
        | ModAction::Grant
        | ModAction::Revoke => None,
    }
}

/// The menu of `room`.
pub fn moderation_menu(room: &str, moderation: Moderation) -> Html {
    let form = moderation.form.clone();
    let on_open = {
        let (form, room) = (form.clone(), room.to_owned());
        Callback::from(move |()| form.refresh(&room))
    };
    let listing = (*form.listing).clone().unwrap_or_default();
    let on_act = moderation.on_act.clone();
    let lift = |row: &Row, action: ModAction| {
        let (on_act, listing, name) = (on_act.clone(), form.listing.clone(), row.name.clone());
        Callback::from(move |_: MouseEvent| {
            on_act.emit(act(action, false, Some(name.clone()), None, String::new()));
            // Gone from its list at once (an unmute's or an unban's); the
            // room's notice confirms it.
            if let Some(mut shown) = (*listing).clone() {
                let unmuted = action.silences() == Some(false);
                let list = if unmuted {
                    Some(&mut shown.mutes)
                } else {
                    shown.bans.as_mut()
                };
                if let Some(list) = list {
                    list.retain(|row| row.name != name);
                }
                listing.set(Some(shown));
            }
        })
    };
    let row = |row: &Row, action: ModAction| {
        html! {
            <li>
                <strong>{ &row.name }</strong>
                <span class="hint">
                    { &row.covers }{ until_text(row.until) }
                    { row.reason.as_deref().map(|reason| format!(" · {reason}")).unwrap_or_default() }
                </span>
                <button type="button" onclick={lift(row, action)}
                    aria-label={t::lift_for(&row.name)}>{ tr(T::Lift) }</button>
            </li>
        }
    };
    let body = html! {
            <>
                <h2>{ t::muted_in(room) }</h2>
                if listing.mutes.is_empty() {
                    <p class="hint">{ tr(T::Nobody) }</p>
                } else {
                    <ul class="sanctions">{ for listing.mutes.iter().map(|r| row(r, ModAction::Unmute)) }</ul>
                }
                if let Some(bans) = &listing.bans {
                    <h2>{ tr(T::Banned) }</h2>
                    if bans.is_empty() {
                        <p class="hint">{ tr(T::Nobody) }</p>
                    } else {
                        <ul class="sanctions">{ for bans.iter().map(|r| row(r, ModAction::Unban)) }</ul>
                    }
                }
                { moderation_form(room, moderation) }
                <h2>{ tr(T::RecentActions) }</h2>
                <ol class="audit">{ for listing.audit.iter().take(20).map(|line| html! { <li>{ line }</li> }) }</ol>
            </>
    };
    menu(
        "moderation-menu",
        MENU_ID,
        html! { tr(T::Moderation) },
        None,
        Some(on_open),
        body,
    )
}

/// The moderation menu's popover.
const MENU_ID: &str = "mod-menu";

/// What a name can be done to (the last four by admins only), whether
/// about every room, and how the form says it. Kicks and bans reach
/// beyond the room: moderators of every room take them.
const PERSON_ACTIONS: [(ModAction, bool, T); 11] = [
    (ModAction::Mute, false, T::ActMute),
    (ModAction::Unmute, false, T::ActUnmute),
    (ModAction::Kick, false, T::ActKick),
    (ModAction::Ban, false, T::ActBan),
    (ModAction::Unban, false, T::ActUnban),
    (ModAction::Purge, false, T::ActPurge),
    (ModAction::BanAddress, false, T::ActBanAddress),
    (ModAction::Grant, false, T::ActGrant),
    (ModAction::Revoke, false, T::ActRevoke),
    (ModAction::Grant, true, T::ActGrantAll),
    (ModAction::Revoke, true, T::ActRevokeAll),
];

fn moderation_form(room: &str, moderation: Moderation) -> Html {
    let Moderation {
        admin,
        locked,
        on_act,
        form,
    } = moderation;
    let lock = {
        let on_act = on_act.clone();
        let action = if locked {
            ModAction::Unlock
        } else {
            ModAction::Lock
        };
        Callback::from(move |_: MouseEvent| {
            on_act.emit(act(action, false, None, None, String::new()));
        })
    };
    let onsubmit = {
        let form = form.clone();
        let on_act = on_act.clone();
        let room = room.to_owned();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let field = |node: &NodeRef| {
                node.cast::<HtmlInputElement>()
                    .map(|input| input.value())
                    .unwrap_or_default()
            };
            // The list starts on no action (index 0).
            let chosen = form
                .action
                .cast::<HtmlSelectElement>()
                .and_then(|select| usize::try_from(select.selected_index() - 1).ok())
                .and_then(|at| PERSON_ACTIONS.get(at));
            let Some(&(action, all_rooms, _)) = chosen else {
                return;
            };
            let target = field(&form.target).trim().to_owned();
            if target.is_empty() {
                return;
            }
            let minutes = field(&form.minutes).trim().parse().ok().filter(|&m| m > 0);
            let frame = act(
                action,
                all_rooms,
                Some(target.clone()),
                minutes,
                field(&form.reason),
            );
            let (on_act, room) = (on_act.clone(), room.clone());
            // A purge counts what it removes first (the server knows the
            // whole history), and asks with that number.
            spawn_local(async move {
                let count = match action {
                    ModAction::Purge => messages_of(&room, &target).await,
                    ModAction::Delete
                    | ModAction::Pin
                    | ModAction::Unpin
                    | ModAction::Mute
                    | ModAction::Unmute
                    | ModAction::Kick
                    | ModAction::Ban
                    | ModAction::BanAddress
                    | ModAction::Unban
                    | ModAction::Lock
                    | ModAction::Unlock
                    | ModAction::Grant
                    | ModAction::Revoke => None,
                };
                if let Some(question) = confirmation(action, &target, &room, minutes, count) {
                    let window = gloo::utils::window();
                    if !window.confirm_with_message(&question).unwrap_or(false) {
                        return;
                    }
                }
                on_act.emit(frame);
            });
        })
    };
    // The admins' come last: without them, an index is still the table's.
    let shown = if admin { PERSON_ACTIONS.len() } else { 7 };
    let options = PERSON_ACTIONS[..shown]
        .iter()
        .map(|(_, _, label)| html! { <option>{ tr(*label) }</option> });

    html! {
        <form class="moderation" {onsubmit}>
            <fieldset>
                <legend>{ t::moderate_room(room) }</legend>
                <button type="button" class="lock" onclick={lock}>
                    { tr(if locked { T::UnlockRoom } else { T::LockRoom }) }
                </button>
                <label for="mod-target">{ tr(T::ModName) }</label>
                <input id="mod-target" ref={form.target.clone()} autocomplete="off" />
                <label for="mod-action">{ tr(T::ModAction) }</label>
                <select id="mod-action" ref={form.action.clone()}>
                    <option selected=true disabled=true value="">{ tr(T::ChooseAction) }</option>
                    { for options }
                </select>
                <label for="mod-minutes">{ tr(T::ModMinutes) }</label>
                <input id="mod-minutes" ref={form.minutes.clone()} type="number" min="1" />
                <label for="mod-reason">{ tr(T::ModReason) }</label>
                <input id="mod-reason" ref={form.reason.clone()} maxlength={REASON_MAX_CHARS.to_string()} />
                <button type="submit" class="apply">{ tr(T::Apply) }</button>
            </fieldset>
        </form>
    }
}

/// A moderator's action on `target` (for `minutes`, why), as sent.
fn act(
    action: ModAction,
    all_rooms: bool,
    target: Option<String>,
    minutes: Option<u64>,
    reason: String,
) -> MessageChange {
    MessageChange::Moderate {
        action,
        target,
        duration_s: minutes.map(|minutes| minutes.saturating_mul(60)),
        reason: (!reason.trim().is_empty()).then(|| reason.trim().to_owned()),
        all_rooms,
    }
}

/// A moderator's action as the room's one-line notice (`to_target`: as
/// the person it concerns reads it, who alone hears of a mute), or as the
/// moderation menu lists it.
pub(crate) fn moderation_notice(
    action: ModAction,
    by: &str,
    target: Option<&str>,
    reason: Option<String>,
    to_target: bool,
) -> String {
    let target = target.unwrap_or_default();
    let what = match action {
        ModAction::Delete => t::did_delete(by),
        ModAction::Pin => t::did_pin(by),
        ModAction::Unpin => t::did_unpin(by),
        ModAction::Mute if to_target => t::did_mute_you(by),
        ModAction::Mute => t::did_mute(by, target),
        ModAction::Unmute if to_target => t::did_unmute_you(by),
        ModAction::Unmute => t::did_unmute(by, target),
        ModAction::Kick => t::did_kick(by, target),
        ModAction::Ban => t::did_ban(by, target),
        ModAction::BanAddress => t::did_ban_address(by, target),
        ModAction::Unban => t::did_unban(by, target),
        ModAction::Purge => t::did_purge(by, target),
        ModAction::Lock => t::did_lock(by),
        ModAction::Unlock => t::did_unlock(by),
        ModAction::Grant => t::did_grant(by, target),
        ModAction::Revoke => t::did_revoke(by, target),
    };
    match reason {
        Some(reason) => t::with_reason(&what, &reason),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_reads_as_the_room_and_its_target_hear_it() {
        let kind = || Some("be kind".to_owned());
        let line =
            |action, target, to_target| moderation_notice(action, "mod", target, kind(), to_target);
        assert_eq!(
            line(ModAction::Lock, None, true),
            "mod locked the room: only moderators post: be kind"
        );
        assert_eq!(
            line(ModAction::Mute, Some("alice"), true),
            "mod muted you here for now: be kind"
        );
        assert_eq!(
            line(ModAction::Mute, Some("alice"), false),
            "mod muted alice: be kind"
        );
        assert_eq!(
            moderation_notice(ModAction::Kick, "mod", Some("bob"), None, true),
            "mod removed bob"
        );
    }
}
