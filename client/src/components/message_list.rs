//! The list of a room's messages: keyed by id, kept at the newest message
//! while the reader is at the bottom (and whenever they send), left alone
//! while they read older ones, with a count of what arrived meanwhile;
//! older history loads when they reach the top. Days are separated, the
//! unread part is marked with a line, and a permalink's message is
//! scrolled to and highlighted (older pages load until it is there).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlElement};
use yew::prelude::*;

use crate::components::emoji_picker::{self, EmojiPicker};
use crate::components::formatted::formatted;
use crate::components::moderation::moderation_notice;
use crate::components::people::member_mark;
use crate::components::route_link::route_link;
use crate::effects::{use_effect_on, use_mut_ref_with, use_state_with};
use crate::i18n::{t, tr, Lang, T};
use crate::router::use_navigator;
use crate::router::Route;
use crate::state::messages::Entry;
use crate::state::outbox::{Outgoing, OutgoingStatus};
use crate::state::people::{Notice, PresenceNotice};
use protocol::Reactions;

/// How close to an edge (in pixels) still counts as being at it.
const EDGE_SLACK_PX: i32 = 48;

#[derive(Properties, PartialEq)]
pub struct MessageListProps {
    /// The room's name, for permalinks.
    pub room: String,
    pub entries: Rc<Vec<Rc<Entry>>>,
    pub outbox: Rc<Vec<Outgoing>>,
    pub presence_notices: Rc<Vec<PresenceNotice>>,
    pub has_older: bool,
    /// The server keeps messages this many days: the room's history
    /// begins where that left it.
    pub retain_days: Option<u32>,
    pub loading_older: bool,
    /// The first message that was unread when the room was opened.
    pub new_since: Option<u64>,
    /// The message of the permalink being shown.
    pub highlight: Option<u64>,
    /// The message of ours the composer is editing.
    #[prop_or_default]
    pub editing: Option<u64>,
    pub on_load_older: Callback<()>,
    pub on_retry: Callback<String>,
    pub on_discard: Callback<String>,
    /// The name bound to us: our reactions are shown pressed.
    pub me: Option<String>,
    /// Whether messages can be changed now (the room is joined).
    pub can_act: bool,
    /// We moderate the room: any message may be deleted.
    pub moderator: bool,
    pub on_action: Callback<MessageAction>,
}

/// What the user does to a message from its menu.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageAction {
    Reply(Rc<Entry>),
    Edit(Rc<Entry>),
    /// Delete message `id`: ours, or (`own` false) as a moderator.
    Delete {
        id: u64,
        own: bool,
    },
    React {
        id: u64,
        emoji: String,
        on: bool,
    },
    /// A moderator acts on the author (named): mute, kick, ban, ...
    Moderate(String),
    /// A moderator pins message `id` for the room (unpinned from the
    /// pinned bar).
    Pin(u64),
}

#[component]
pub fn MessageList(props: &MessageListProps) -> Html {
    let list = use_node_ref();
    // Following the newest message: the reader leaves it only by
    // scrolling up. (Judged by the distance to the bottom alone, a busy
    // room's next message, in before the scroll event, read as the reader
    // having left, and the list stopped following.)
    let at_bottom = use_mut_ref_with(|| true);
    // The scroll position last seen, to tell a scroll up from the list
    // growing under the reader.
    let last_top = use_mut_ref_with(|| 0);
    // Distance from the bottom when older messages were asked for, so the
    // view stays put when they are inserted above.
    let anchor = use_mut_ref_with(|| None::<i32>);
    // Messages that arrived while the reader was reading older ones.
    let unseen = use_state_with(|| 0_usize);
    // What the last render showed, to tell what this one added.
    let shown = use_mut_ref_with(|| (None::<u64>, 0_usize));

    let onscroll = scroll_handler(props, &list, &at_bottom, &last_top, &anchor, &unseen);
    let newest = props.entries.last().map(|e| e.message.id);
    let oldest = props.entries.first().map(|e| e.message.id);
    {
        let list = list.clone();
        let at_bottom = at_bottom.clone();
        let anchor = anchor.clone();
        let unseen = unseen.clone();
        let entries = Rc::clone(&props.entries);
        use_effect_on(
            (newest, oldest, props.outbox.len()),
            move |&(newest, _, outbox)| {
                let Some(el) = list.cast::<Element>() else {
                    return;
                };
                let (shown_newest, shown_outbox) = shown.replace((newest, outbox));
                let arrived = match shown_newest {
                    Some(before) => entries
                        .iter()
                        .rev()
                        .take_while(|e| e.message.id > before)
                        .count(),
                    None => 0,
                };
                if let Some(from_bottom) = anchor.borrow_mut().take() {
                    // Older messages went in above: the reader's view stays put.
                    el.set_scroll_top(el.scroll_height() - from_bottom);
                } else if *at_bottom.borrow() || outbox > shown_outbox || shown_newest.is_none() {
                    // At the bottom, just sent, or just entered: show the newest.
                    scroll_to_bottom(&el, &at_bottom);
                } else if arrived > 0 {
                    unseen.set(*unseen + arrived);
                }
            },
        );
    }
    // A permalink: the message in view and highlighted, once there; until
    // then, older pages.
    let found = props.highlight.filter(|id| {
        props
            .entries
            .binary_search_by_key(id, |e| e.message.id)
            .is_ok()
    });
    {
        let list = list.clone();
        let at_bottom = at_bottom.clone();
        // Only once the room is joined: a room started from what the last
        // visit kept shows messages before it can ask for more.
        let wants_older = props.highlight.is_some()
            && found.is_none()
            && props.has_older
            && !props.loading_older
            && props.can_act
            && props.highlight < oldest;
        let on_load_older = props.on_load_older.clone();
        let room_path = Route::Room {
            room: props.room.clone(),
        }
        .to_path();
        use_effect_on(
            (props.highlight, found, wants_older),
            move |&(_, found, wants_older)| {
                if wants_older {
                    on_load_older.emit(());
                }
                if let Some(id) = found {
                    show_permalink(&list, id, &at_bottom, &room_path);
                }
            },
        );
    }
    let jump = {
        let list = list.clone();
        let at_bottom = at_bottom.clone();
        let unseen = unseen.clone();
        Callback::from(move |_| {
            if let Some(el) = list.cast::<Element>() {
                scroll_to_bottom(&el, &at_bottom);
                unseen.set(0);
            }
        })
    };
    let first_unread = first_unread_jump(props, &list, &at_bottom);
    let load_older = {
        let on_load_older = props.on_load_older.clone();
        Callback::from(move |_| on_load_older.emit(()))
    };
    let onkeydown = {
        let list = list.clone();
        Callback::from(move |e: KeyboardEvent| {
            if let Some(list) = list.cast::<Element>() {
                list_keys(&list, &e);
            }
        })
    };
    // The one reaction picker (see `emoji_picker`); kept the same across
    // renders, so a new message does not draw it again.
    let on_pick = use_callback(props.on_action.clone(), |(id, emoji), on_action| {
        on_action.emit(MessageAction::React {
            id,
            emoji,
            on: true,
        });
    });

    let items = list_items(props, oldest, load_older);

    // The log role is on a wrapper: on the list itself it would hide that
    // its items are list items.
    html! {
        <div class="messages-wrap">
            // Before the list: Tab reaches it first.
            if props.new_since.is_some() {
                <button class="first-unread" onclick={first_unread}>{ tr(T::FirstUnread) }</button>
            }
            <div class="messages" ref={list} {onscroll} {onkeydown} role="log" aria-live="polite"
                aria-relevant="additions" aria-label={tr(T::Messages)} tabindex="0"
                aria-describedby="list-keys">
                <p id="list-keys" class="visually-hidden">
                    { tr(T::ListKeys) }
                </p>
                <ol class="message-items">{ for items }</ol>
            </div>
            if *unseen > 0 {
                <button class="jump" onclick={jump}>{ t::new_below(*unseen as u64) }</button>
            }
            <EmojiPicker {on_pick} />
        </div>
    }
}

/// Scrolling: whether the reader follows the newest message (only
/// scrolling up leaves it: judged by the distance to the bottom alone, a
/// busy room's next message, in before the scroll event, read as the
/// reader having left), what they have now seen, and older pages when the
/// top is reached (the view kept where it was, `anchor`).
fn scroll_handler(
    props: &MessageListProps,
    list: &NodeRef,
    at_bottom: &Rc<RefCell<bool>>,
    last_top: &Rc<RefCell<i32>>,
    anchor: &Rc<RefCell<Option<i32>>>,
    unseen: &UseStateHandle<usize>,
) -> Callback<Event> {
    let (list, at_bottom, last_top) = (list.clone(), at_bottom.clone(), last_top.clone());
    let (anchor, unseen) = (anchor.clone(), unseen.clone());
    let on_load_older = props.on_load_older.clone();
    let can_load = props.has_older && !props.loading_older;
    Callback::from(move |_: Event| {
        let Some(el) = list.cast::<Element>() else {
            return;
        };
        let top = el.scroll_top();
        let bottom = el.scroll_height() - top - el.client_height() <= EDGE_SLACK_PX;
        let went_up = top < last_top.replace(top);
        if bottom {
            *at_bottom.borrow_mut() = true;
        } else if went_up {
            *at_bottom.borrow_mut() = false;
        }
        if bottom && *unseen > 0 {
            unseen.set(0);
        }
        if can_load && el.scroll_top() <= EDGE_SLACK_PX {
            *anchor.borrow_mut() = Some(el.scroll_height() - el.scroll_top());
            on_load_older.emit(());
        }
    })
}

/// A permalink's message, found: in view and the reader off the newest.
/// Read, the address goes back to the room's (a reload opens the room,
/// not the old message again); the highlight stays until the room is left.
fn show_permalink(list: &NodeRef, id: u64, at_bottom: &Rc<RefCell<bool>>, room_path: &str) {
    let selector = format!(".message[data-id=\"{id}\"]");
    let Some(item) = list
        .cast::<Element>()
        .and_then(|el| el.query_selector(&selector).ok().flatten())
    else {
        return;
    };
    let options = web_sys::ScrollIntoViewOptions::new();
    options.set_block(web_sys::ScrollLogicalPosition::Center);
    item.scroll_into_view_with_scroll_into_view_options(&options);
    *at_bottom.borrow_mut() = false;
    let _ = gloo::utils::window()
        .history()
        .and_then(|history| history.replace_state_with_url(&JsValue::NULL, "", Some(room_path)));
}

/// The first unread message, to jump to (and the reader leaves the newest
/// there: the list stops following).
fn first_unread_jump(
    props: &MessageListProps,
    list: &NodeRef,
    at_bottom: &Rc<RefCell<bool>>,
) -> Callback<MouseEvent> {
    let (list, at_bottom) = (list.clone(), at_bottom.clone());
    let selector = props
        .new_since
        .map(|id| format!(".message[data-id=\"{id}\"]"));
    Callback::from(move |_: MouseEvent| {
        let item = list
            .cast::<Element>()
            .zip(selector.as_deref())
            .and_then(|(el, selector)| el.query_selector(selector).ok().flatten());
        if let Some(item) = item.and_then(|item| item.dyn_into::<HtmlElement>().ok()) {
            *at_bottom.borrow_mut() = false;
            item.scroll_into_view();
            let _ = item.focus();
        }
    })
}

/// The list is one tab stop, its keys those of a feed: Up and Down (Home,
/// End) move between messages, from the list itself to the newest; Right
/// and Left through the focused message's links and buttons (out of the
/// tab order, see `MessageItem`), Escape back to the message. (A code
/// block keeps Right and Left to scroll itself.)
fn list_keys(list: &Element, e: &KeyboardEvent) {
    let Some(target) = e.target_dyn_into::<Element>() else {
        return;
    };
    if e.alt_key() || e.ctrl_key() || e.meta_key() {
        return;
    }
    let item = target.closest("li.message").ok().flatten();
    let focus = |el: Option<web_sys::Node>| {
        if let Some(el) = el.and_then(|el| el.dyn_into::<HtmlElement>().ok()) {
            let _ = el.focus();
        }
    };
    let key = e.key();
    match key.as_str() {
        "ArrowDown" | "ArrowUp" | "Home" | "End" => {
            let Ok(items) = list.query_selector_all("li.message") else {
                return;
            };
            let count = items.length();
            if count == 0 {
                return;
            }
            let at = item.as_ref().and_then(|item| {
                (0..count).find(|&at| items.get(at).is_some_and(|node| &node == item.as_ref()))
            });
            let last = count - 1;
            let next = match (key.as_str(), at) {
                ("Home", _) => 0,
                ("End", _) | (_, None) => last,
                ("ArrowDown", Some(at)) => (at + 1).min(last),
                (_, Some(at)) => at.saturating_sub(1),
            };
            e.prevent_default();
            focus(items.get(next));
        }
        "ArrowRight" | "ArrowLeft" if target.tag_name() != "PRE" => {
            let Some(item) = item else {
                return;
            };
            let Ok(parts) = item.query_selector_all("a, button:not(:disabled), pre") else {
                return;
            };
            let count = parts.length();
            if count == 0 {
                return;
            }
            let at =
                (0..count).find(|&at| parts.get(at).is_some_and(|node| &node == target.as_ref()));
            let next = match (key.as_str(), at) {
                ("ArrowRight", None) => 0,
                ("ArrowRight", Some(at)) => (at + 1) % count,
                (_, None) => count - 1,
                (_, Some(at)) => (at + count - 1) % count,
            };
            e.prevent_default();
            focus(parts.get(next));
        }
        "Escape" => {
            if let Some(item) = item.filter(|item| *item != target) {
                focus(Some(item.into()));
            }
        }
        _ => {}
    }
}

/// The list's items: the "load older" button, the empty room's line,
/// presence notices, the messages in chunks, then what is still to send.
fn list_items(
    props: &MessageListProps,
    oldest: Option<u64>,
    load_older: Callback<MouseEvent>,
) -> Vec<Html> {
    // One keyed list, its messages in chunks of ids: a render compares the
    // chunks by pointer and re-renders only those that changed (the last,
    // on an append), so a room showing thousands of messages costs little
    // more per message than an empty one. Only new items reach the DOM.
    let mut items: Vec<Html> = Vec::with_capacity(props.entries.len() / CHUNK_IDS as usize + 8);
    if props.has_older {
        items.push(html! {
            <li class="older" key="older">
                <button onclick={load_older} disabled={props.loading_older}>
                    { tr(if props.loading_older { T::Loading } else { T::LoadOlder }) }
                </button>
            </li>
        });
    }
    if let (false, Some(days)) = (
        props.has_older || props.entries.is_empty(),
        props.retain_days,
    ) {
        items.push(html! {
            <li class="begins" key="begins">
                { t::history_begins(u64::from(days)) }
            </li>
        });
    }
    if props.entries.is_empty() && props.outbox.is_empty() {
        items.push(html! { <li class="empty" key="empty">{ tr(T::NoMessages) }</li> });
    }
    // Notices from before the first message shown go first.
    items.extend(
        props
            .presence_notices
            .iter()
            .filter(|notice| {
                notice
                    .after_id
                    .is_none_or(|id| oldest.is_none_or(|oldest| id < oldest))
            })
            .map(notice_item),
    );
    let mut before: Option<Rc<Entry>> = None;
    for chunk in props
        .entries
        .chunk_by(|a, b| a.message.id / CHUNK_IDS == b.message.id / CHUNK_IDS)
    {
        let ids = chunk[0].message.id..=chunk[chunk.len() - 1].message.id;
        let notices: Vec<PresenceNotice> = props
            .presence_notices
            .iter()
            .filter(|notice| notice.after_id.is_some_and(|id| ids.contains(&id)))
            .cloned()
            .collect();
        let marks = Marks {
            new_since: props.new_since.filter(|id| ids.contains(id)),
            highlight: props.highlight.filter(|id| ids.contains(id)),
            editing: props.editing.filter(|id| ids.contains(id)),
            can_act: props.can_act,
            moderator: props.moderator,
        };
        items.push(html! {
            <MessageChunk key={format!("chunk-{}", ids.start() / CHUNK_IDS)}
                room={props.room.clone()} before={before.clone()} entries={chunk.to_vec()}
                {notices} {marks} me={props.me.clone()} on_action={props.on_action.clone()} />
        });
        before = chunk.last().cloned();
    }
    items.extend(
        props
            .outbox
            .iter()
            .map(|outgoing| outgoing_item(outgoing, &props.on_retry, &props.on_discard)),
    );
    items
}

/// Scrolls `el` to its end and remembers that the reader is there (no
/// scroll event may follow when the list was there already).
fn scroll_to_bottom(el: &Element, at_bottom: &Rc<std::cell::RefCell<bool>>) {
    el.set_scroll_top(el.scroll_height());
    *at_bottom.borrow_mut() = true;
}

fn notice_item(notice: &PresenceNotice) -> Html {
    let text = match &notice.what {
        Notice::People { joined, left } => comings_and_goings(joined, left),
        Notice::Moderated {
            action,
            by,
            target,
            reason,
        } => moderation_notice(*action, by, target.as_deref(), reason.clone(), true),
    };
    html! {
        <li key={format!("notice-{}", notice.seq)} class="presence-notice">{ text }</li>
    }
}

/// "bob joined", "bob and carol joined, dave left", "bob and 3 others
/// joined".
fn comings_and_goings(joined: &[String], left: &[String]) -> String {
    let who = |names: &[String]| match names {
        [] => String::new(),
        [one] => one.clone(),
        [one, two] => t::two_names(one, two),
        [one, others @ ..] => t::name_and_others(one, others.len() as u64),
    };
    match (joined.is_empty(), left.is_empty()) {
        (false, true) => t::joined(&who(joined)),
        (true, false) => t::left(&who(left)),
        (false, false) => t::joined_and_left(&who(joined), &who(left)),
        (true, true) => String::new(),
    }
}

/// Messages with ids from one multiple of this to the next share a chunk.
const CHUNK_IDS: u64 = 100;

/// Where the lines and the highlight go in a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Marks {
    /// The first unread message, if in the chunk: the "new messages" line
    /// goes before it.
    new_since: Option<u64>,
    /// The permalink's message, if in the chunk.
    highlight: Option<u64>,
    /// The message being edited, if in the chunk.
    editing: Option<u64>,
    /// Whether the messages' menus are on.
    can_act: bool,
    /// Whether they offer to delete anyone's message.
    moderator: bool,
}

#[derive(Properties)]
struct MessageChunkProps {
    room: String,
    /// The message shown just before the chunk, if any: the first of the
    /// chunk continues its group when it has the same author, and starts a
    /// day when it is of another day.
    before: Option<Rc<Entry>>,
    /// Consecutive messages, oldest first.
    entries: Vec<Rc<Entry>>,
    /// The join/leave notices that happened after one of them.
    notices: Vec<PresenceNotice>,
    marks: Marks,
    me: Option<String>,
    on_action: Callback<MessageAction>,
}

/// The same messages (by pointer: entries are never changed in place) and
/// notices: nothing to render again. (`on_action` is left out: it does the
/// same for every render of one room's list, which is keyed by room.)
impl PartialEq for MessageChunkProps {
    fn eq(&self, other: &Self) -> bool {
        let same_before = match (&self.before, &other.before) {
            (Some(a), Some(b)) => Rc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        same_before
            && self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| Rc::ptr_eq(a, b))
            && self.notices == other.notices
            && self.marks == other.marks
            && self.room == other.room
            && self.me == other.me
    }
}

/// A run of messages, each followed by the notices that came after it.
#[component]
fn MessageChunk(props: &MessageChunkProps) -> Html {
    let previous = std::iter::once(props.before.as_ref()).chain(props.entries.iter().map(Some));
    let now = js_sys::Date::now();
    let marks = props.marks;
    props
        .entries
        .iter()
        .zip(previous)
        .flat_map(|(entry, previous)| {
            let id = entry.message.id;
            let at = entry.message.date_time as f64;
            let day = Day::of(at);
            let new_day = previous.is_none_or(|p| Day::of(p.message.date_time as f64) != day);
            let continued = !new_day && previous.is_some_and(|previous| continues(previous, entry));
            let day = new_day.then(|| day.label(at, now));
            let starts_unread = marks.new_since == Some(id);
            let highlighted = marks.highlight == Some(id);
            let editing = marks.editing == Some(id);
            std::iter::once(html! {
                <MessageItem key={id} room={props.room.clone()} entry={Rc::clone(entry)}
                    {continued} {highlighted} {editing} {day} {starts_unread} me={props.me.clone()}
                    can_act={marks.can_act} moderator={marks.moderator}
                    on_action={props.on_action.clone()} />
            })
            .chain(
                props
                    .notices
                    .iter()
                    .filter(move |notice| notice.after_id == Some(id))
                    .map(notice_item),
            )
        })
        .collect()
}

/// Consecutive messages of one person within this long are shown as one
/// group: the name once.
const GROUP_GAP_MS: i64 = 5 * 60 * 1000;

/// Whether `entry` continues the group of `previous`.
fn continues(previous: &Entry, entry: &Entry) -> bool {
    previous.message.user == entry.message.user
        && previous.message.claimed == entry.message.claimed
        && entry.message.date_time - previous.message.date_time < GROUP_GAP_MS
}

/// A calendar day in the reader's time zone: `Sat Nov 28 2026`, equal for
/// two times of one local day.
#[derive(Debug, Clone, PartialEq)]
struct Day(String);

const DAY_MS: f64 = 24.0 * 3_600_000.0;

impl Day {
    fn of(millis: f64) -> Self {
        Self(String::from(
            js_sys::Date::new(&JsValue::from_f64(millis)).to_date_string(),
        ))
    }

    /// "Today", "Yesterday", or the date as the reader's locale writes it;
    /// `at` is a time of the day, `now` the reader's clock.
    fn label(&self, at: f64, now: f64) -> String {
        if *self == Day::of(now) {
            return tr(T::Today).to_owned();
        }
        // A day ago is yesterday, whatever the hour (but for a change of
        // daylight saving time at midnight).
        if *self == Day::of(now - DAY_MS) {
            return tr(T::Yesterday).to_owned();
        }
        let date = js_sys::Date::new(&JsValue::from_f64(at));
        String::from(date.to_locale_date_string(Lang::current().tag(), &date_style()))
    }
}

#[derive(Properties, PartialEq)]
struct MessageItemProps {
    room: String,
    entry: Rc<Entry>,
    /// Same author as the message before: the name is not shown again.
    continued: bool,
    /// The message of the permalink being shown.
    highlighted: bool,
    /// The composer is editing it.
    editing: bool,
    /// The first message of a day: the day's name goes above it ("Today").
    day: Option<String>,
    /// The first message unread when the room was opened: the "new
    /// messages" line goes above it.
    starts_unread: bool,
    me: Option<String>,
    can_act: bool,
    moderator: bool,
    on_action: Callback<MessageAction>,
}

/// One posted message, as it is now: its reply quote, its text (or that
/// it was deleted), its reactions, and its menu (reply, react, and for our
/// own, edit and delete; shown on hover or focus). Its props compare by
/// pointer first, so appending to the list re-renders only the new item.
#[component]
fn MessageItem(props: &MessageItemProps) -> Html {
    let navigator = use_navigator();
    let menu = MenuState {
        confirming: use_state_with(|| false),
    };
    let Entry {
        message,
        own,
        mentions_me,
    } = props.entry.as_ref();
    let date = js_sys::Date::new(&JsValue::from_f64(message.date_time as f64));
    // Both in the reader's locale (12 or 24 hours, as they are used to).
    let locale = Lang::current().tag();
    let time = String::from(date.to_locale_time_string_with_options(locale, &short_time()));
    let iso = String::from(date.to_iso_string());
    let full = String::from(date.to_locale_string(locale, &JsValue::UNDEFINED));
    let permalink = Route::Message {
        room: props.room.clone(),
        id: message.id,
    };
    let edited = message.edited_at.map(|at| {
        let at = js_sys::Date::new(&JsValue::from_f64(at as f64));
        t::edited_at(&String::from(
            at.to_locale_string(locale, &JsValue::UNDEFINED),
        ))
    });
    let quote = message.reply_to.as_ref().map(|quote| {
        let original = Route::Message {
            room: props.room.clone(),
            id: quote.id,
        };
        let shown = html! {
            if quote.deleted {
                <span class="quote-gone">{ tr(T::QuoteGone) }</span>
            } else {
                <span class="quote-author">{ &quote.user }{ member_mark(quote.claimed) }</span>
                <span class="quote-text">{ &quote.excerpt }</span>
            }
        };
        route_link(&navigator, original, Some("quote"), true, shown)
    });
    let react = {
        let on_action = props.on_action.clone();
        let id = message.id;
        Callback::from(move |(emoji, on): (String, bool)| {
            on_action.emit(MessageAction::React { id, emoji, on });
        })
    };
    let reactions = message.reactions.iter().map(|given| {
        let mine = props.me.as_ref().is_some_and(|me| given.users.contains(me));
        let toggle = react.reform({
            let emoji = given.emoji.clone();
            move |_: MouseEvent| (emoji.clone(), !mine)
        });
        let who = reacted(given);
        html! {
            // Named by what it shows, then who: a name other than the
            // visible text fails people who speak to their screen reader.
            <button class="reaction" aria-pressed={mine.to_string()} title={who.clone()}
                onclick={toggle} disabled={!props.can_act} tabindex="-1">
                { &given.emoji }<span class="count">{ given.count }</span>
                <span class="visually-hidden">{ format!(": {who}") }</span>
            </button>
        }
    });
    // A long press on a touch screen (or a right click) opens the menu, as
    // focus does; on a link the browser's own menu stays.
    // (Yew delegates events: the item is found from the target.)
    let oncontextmenu = Callback::from(|e: MouseEvent| {
        let Some(target) = e.target_dyn_into::<Element>() else {
            return;
        };
        let on_link = target.closest("a").ok().flatten().is_some();
        let item = target
            .closest("li.message")
            .ok()
            .flatten()
            .and_then(|item| item.dyn_into::<HtmlElement>().ok());
        if let (false, Some(item)) = (on_link, item) {
            e.prevent_default();
            let _ = item.focus();
        }
    });
    html! {
        // Focusable (not in the tab order) so that a tap on a touch
        // screen shows its menu.
        <li class="message" tabindex="-1" {oncontextmenu}
            data-id={message.id.to_string()}
            data-status={own.then_some("sent")}
            data-continued={props.continued.then_some("true")}
            data-highlighted={props.highlighted.then_some("true")}
            data-editing={props.editing.then_some("true")}
            data-mentions-me={mentions_me.then_some("true")}>
            // Inside the item, not items of their own: the list holds
            // messages only, and one message is one item.
            if let Some(day) = &props.day {
                <div class="day">{ day }</div>
            }
            if props.starts_unread {
                <div class="unread-line">{ tr(T::NewMessages) }</div>
            }
            <div class="meta">
                <span class="author">{ &message.user }{ member_mark(message.claimed) }</span>
                { route_link(&navigator, permalink, Some("permalink"), true, html! {
                    <time datetime={iso} title={full}>{ time }</time>
                }) }
                if let Some(edited) = edited {
                    <span class="edited" title={edited}>{ tr(T::EditedMark) }</span>
                }
            </div>
            { for quote }
            if message.deleted {
                <p class="text tombstone">{ tr(T::MessageDeleted) }</p>
            } else {
                // A few emoji alone are shown large, as in other chats.
                <div class="text" data-emoji-only={crate::lower::emoji_only(&message.msg).then_some("true")}>
                    { formatted(&message.msg, message.formatted.as_deref()) }
                </div>
            }
            if !message.reactions.is_empty() {
                <div class="reactions">{ for reactions }</div>
            }
            if props.can_act && !message.deleted {
                { message_menu(&props.entry, props.moderator, &props.on_action, &menu) }
            }
        </li>
    }
}

/// "bob, amy and 3 others reacted with 👍".
fn reacted(given: &Reactions) -> String {
    let named = given.users.len();
    let others = given.count.saturating_sub(named);
    let separator = tr(T::ListSeparator);
    let names = match (given.users.as_slice(), others) {
        ([], _) => t::people(given.count as u64),
        ([one], 0) => one.clone(),
        (names, 0) => t::two_names(&names[..named - 1].join(separator), &names[named - 1]),
        (names, others) => t::name_and_others(&names.join(separator), others as u64),
    };
    t::reacted(&names, &given.emoji)
}

/// What a message's menu shows: the question before deleting. Hooks of
/// the message's item: the menu is a function, not a component of its own
/// (each component type costs the client about 0.65 KB).
struct MenuState {
    confirming: UseStateHandle<bool>,
}

/// A message's menu: Reply, React (opens the list's one picker, see
/// `emoji_picker`), and for our own messages Edit and Delete (which asks
/// first); a moderator deletes anyone's, and moderates its author.
fn message_menu(
    entry: &Rc<Entry>,
    moderator: bool,
    on_action: &Callback<MessageAction>,
    state: &MenuState,
) -> Html {
    let MenuState { confirming } = state;
    let id = entry.message.id;
    let emit = |action: MessageAction| {
        let on_action = on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(action.clone()))
    };
    let open_picker = Callback::from(move |e: MouseEvent| {
        if let Some(button) = e.target_dyn_into::<Element>() {
            emoji_picker::open_picker(id, &button);
        }
    });
    let ask_delete = {
        let confirming = confirming.clone();
        Callback::from(move |_: MouseEvent| confirming.set(!*confirming))
    };
    // The row floats over the message (see style.css).
    html! {
        <div class="actions" role="group" aria-label={tr(T::MessageActions)}>
            <button tabindex="-1" class="reply" onclick={emit(MessageAction::Reply(Rc::clone(entry)))}>
                { tr(T::Reply) }
            </button>
            <button tabindex="-1" class="react" aria-haspopup="dialog" onclick={open_picker}>
                { tr(T::React) }
            </button>
            if entry.own {
                <button tabindex="-1" class="edit" onclick={emit(MessageAction::Edit(Rc::clone(entry)))}>
                    { tr(T::Edit) }
                </button>
            }
            if entry.own || moderator {
                if **confirming {
                    <span class="confirm" role="alert">{ tr(T::DeleteQuestion) }</span>
                    <button tabindex="-1" class="delete-yes" onclick={emit(MessageAction::Delete { id, own: entry.own })}>
                        { tr(T::Delete) }
                    </button>
                    <button tabindex="-1" class="delete-no" onclick={ask_delete}>{ tr(T::Keep) }</button>
                } else {
                    <button tabindex="-1" class="delete" onclick={ask_delete}>{ tr(T::Delete) }</button>
                }
            }
            if moderator {
                <button tabindex="-1" class="pin" onclick={emit(MessageAction::Pin(id))}>{ tr(T::Pin) }</button>
            }
            if moderator && !entry.own {
                <button tabindex="-1" class="moderate"
                    onclick={emit(MessageAction::Moderate(entry.message.user.clone()))}>
                    { t::moderate_person(&entry.message.user) }
                </button>
            }
        </div>
    }
}

/// A message of ours the server has not confirmed: pending, or failed with
/// Retry (and Discard when the server refused it). A function, not a
/// component: there are few, and each component type costs about 0.65 KB.
fn outgoing_item(
    outgoing: &Outgoing,
    on_retry: &Callback<String>,
    on_discard: &Callback<String>,
) -> Html {
    let (status, label) = match &outgoing.status {
        OutgoingStatus::Pending => ("pending", tr(T::Sending).to_owned()),
        OutgoingStatus::TimedOut => ("queued", tr(T::SendWhenOnline).to_owned()),
        OutgoingStatus::Refused { reason } => ("failed", t::not_sent(reason)),
    };
    let retry = {
        let client_id = outgoing.client_id.clone();
        on_retry.reform(move |_: MouseEvent| client_id.clone())
    };
    let discard = {
        let client_id = outgoing.client_id.clone();
        on_discard.reform(move |_: MouseEvent| client_id.clone())
    };
    html! {
        <li class="message" data-status={status} key={format!("outbox-{}", outgoing.client_id)}>
            <p class="text">{ &outgoing.msg }</p>
            <div class="delivery">
                <span>{ label }</span>
                if status == "failed" {
                    <button class="retry" onclick={retry}>{ tr(T::Retry) }</button>
                    <button class="discard" onclick={discard}>{ tr(T::Discard) }</button>
                }
            </div>
        </li>
    }
}

/// `{ timeStyle: "short" }`: hours and minutes, as the locale writes them.
pub(crate) fn short_time() -> JsValue {
    style_option("timeStyle", "short")
}

/// `{ dateStyle: "long" }`: the date, as the locale writes it.
fn date_style() -> JsValue {
    style_option("dateStyle", "long")
}

fn style_option(name: &str, value: &str) -> JsValue {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &name.into(), &value.into());
    options.into()
}

#[cfg(test)]
mod tests {
    use protocol::ChatMessage;

    use super::*;

    fn entry(user: &str, date_time: i64) -> Entry {
        Entry {
            message: ChatMessage {
                id: 1,
                user: user.into(),
                msg: "hi".into(),
                date_time,
                ..ChatMessage::default()
            },
            own: false,
            mentions_me: false,
        }
    }

    #[test]
    fn comings_and_goings_are_one_line() {
        let names =
            |list: &[&str]| -> Vec<String> { list.iter().map(|n| (*n).to_owned()).collect() };
        assert_eq!(comings_and_goings(&names(&["bob"]), &[]), "bob joined");
        assert_eq!(
            comings_and_goings(&[], &names(&["bob", "amy"])),
            "bob and amy left"
        );
        assert_eq!(
            comings_and_goings(&names(&["bob", "amy", "cy", "di"]), &names(&["eve"])),
            "bob and 3 others joined, eve left"
        );
    }

    #[test]
    fn a_reaction_says_who_gave_it() {
        let given = |users: &[&str], count| Reactions {
            emoji: "👍".into(),
            users: users.iter().map(|name| (*name).to_owned()).collect(),
            count,
        };
        assert_eq!(reacted(&given(&["bob"], 1)), "bob reacted with 👍");
        assert_eq!(
            reacted(&given(&["bob", "amy", "cy"], 3)),
            "bob, amy and cy reacted with 👍"
        );
        assert_eq!(
            reacted(&given(&["bob"], 2)),
            "bob and 1 other reacted with 👍"
        );
        assert_eq!(
            reacted(&given(&["bob", "amy"], 30)),
            "bob, amy and 28 others reacted with 👍"
        );
    }

    #[test]
    fn one_persons_messages_within_minutes_are_one_group() {
        let first = entry("alice", 0);
        assert!(continues(&first, &entry("alice", GROUP_GAP_MS - 1)));
        assert!(!continues(&first, &entry("alice", GROUP_GAP_MS)));
        assert!(!continues(&first, &entry("bob", 1)));
    }
}
