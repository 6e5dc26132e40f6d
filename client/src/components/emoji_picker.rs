//! The reaction picker: one for the whole list, a popover of the browser's
//! (Escape or a click elsewhere closes it, and focus goes back to the
//! message's React button), opened at that button: below it, or above it
//! when the screen has no room below (a sheet along the bottom of a phone).
//!
//! Recently used emoji first (kept per browser), the groups as tabs, and a
//! search by name or `:shortcode:` (Enter takes the first found). The
//! emoji's names are data, not code: `cargo xtask dist` writes them beside
//! the client (`xtask/src/emoji.rs`, the set the server accepts) and the
//! picker reads them when it first opens. Any single emoji typed into the
//! search is offered too, so the picker never limits what one can send.

use std::rc::Rc;

use crate::i18n::{tr, T};
use gloo::storage::{LocalStorage, Storage};
use protocol::{validate_emoji, JsonValue};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Element, HtmlElement, HtmlInputElement};
use yew::prelude::*;

use crate::effects::use_state_with;
use crate::{api, json, lower::lower};

const ID: &str = "emoji-picker";
/// The picker's size in CSS pixels (style.css says the same), to place it.
const WIDTH_PX: f64 = 320.0;
const HEIGHT_PX: f64 = 360.0;
const RECENT_KEY: &str = "chat.recent-emoji";
const RECENT_MAX: usize = 24;
/// A search shows at most this many.
const FOUND_MAX: usize = 120;
/// Until something is used: what the picker once offered alone.
const COMMON: [&str; 8] = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];

#[derive(Debug, Clone, PartialEq)]
pub struct Emoji {
    pub glyph: String,
    pub name: String,
    /// Its shortcodes, space-separated.
    pub codes: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub emoji: Vec<Emoji>,
}

/// Opens the picker for the message `id`, at its React `button`.
pub fn open_picker(id: u64, button: &Element) {
    let Some(picker) = gloo::utils::document()
        .get_element_by_id(ID)
        .and_then(|el| el.dyn_into::<HtmlElement>().ok())
    else {
        return;
    };
    let window = gloo::utils::window();
    let size = |value: Result<wasm_bindgen::JsValue, _>| {
        value.ok().and_then(|v| v.as_f64()).unwrap_or(0.0)
    };
    let (width, height) = (size(window.inner_width()), size(window.inner_height()));
    let at = button.get_bounding_client_rect();
    // Whole pixels: formatting a float would carry Rust's float printing
    // into the client (6 KB).
    let px = |value: f64| value.round() as i32;
    let vertical = if height - at.bottom() >= HEIGHT_PX + 8.0 {
        format!("top:{}px", px(at.bottom() + 4.0))
    } else {
        format!("bottom:{}px", px((height - at.top() + 4.0).max(0.0)))
    };
    let left = px((at.right() - WIDTH_PX).min(width - WIDTH_PX - 8.0).max(8.0));
    let _ = picker.set_attribute("style", &format!("{vertical};left:{left}px"));
    let _ = picker.set_attribute("data-for", &id.to_string());
    let _ = picker.show_popover();
}

/// The emoji data as the build writes it (see the module's doc).
pub fn read_groups(data: &impl JsonValue) -> Vec<Group> {
    let Some(groups) = data.items() else {
        return Vec::new();
    };
    groups
        .filter_map(|group| {
            let mut parts = group.items()?;
            let name = parts.next()?.string()?;
            let emoji = parts
                .next()?
                .items()?
                .filter_map(|emoji| {
                    let [glyph, name, codes] =
                        <[String; 3]>::try_from(json::strings(&emoji)).ok()?;
                    Some(Emoji { glyph, name, codes })
                })
                .collect();
            Some(Group { name, emoji })
        })
        .collect()
}

/// Whether `emoji` answers `query` (lower case, without colons): a word
/// of its name begins with it, or one of its shortcodes does.
pub fn answers(emoji: &Emoji, query: &str) -> bool {
    let code = query.replace(' ', "_");
    emoji.name.contains(query) || emoji.codes.split(' ').any(|c| c.starts_with(&code))
}

/// What `query` finds, at most `FOUND_MAX`: the emoji typed itself first,
/// when it is one, then those whose name or shortcode answers.
pub fn search(groups: &[Group], typed: &str) -> Vec<(String, String)> {
    let typed_emoji = validate_emoji(typed.trim()).ok().map(str::to_owned);
    let mut found: Vec<(String, String)> = typed_emoji
        .iter()
        .map(|emoji| (emoji.clone(), emoji.clone()))
        .collect();
    let query = lower(typed.trim().trim_matches(':'));
    if !query.is_empty() {
        found.extend(
            groups
                .iter()
                .flat_map(|group| &group.emoji)
                .filter(|emoji| {
                    answers(emoji, &query) && typed_emoji.as_ref() != Some(&emoji.glyph)
                })
                .take(FOUND_MAX)
                .map(|emoji| (emoji.glyph.clone(), emoji.name.clone())),
        );
    }
    found
}

/// `used` first in `recent`, once, at most `RECENT_MAX` kept.
pub fn remember(recent: &[String], used: &str) -> Vec<String> {
    std::iter::once(used.to_owned())
        .chain(recent.iter().filter(|kept| *kept != used).cloned())
        .take(RECENT_MAX)
        .collect()
}

#[derive(Properties, PartialEq)]
pub struct EmojiPickerProps {
    /// A message's id and the emoji picked for it.
    pub on_pick: Callback<(u64, String)>,
}

#[component]
pub fn EmojiPicker(props: &EmojiPickerProps) -> Html {
    let groups = use_state_with(|| None::<Rc<Vec<Group>>>);
    let query = use_state_with(String::new);
    let tab = use_state_with(|| 0_usize);
    let recent = use_state_with(|| {
        json::stored(RECENT_KEY)
            .map(|kept| json::strings(&kept))
            .unwrap_or_default()
    });
    // Its grids are drawn only while it is open: a busy room's renders
    // never diff hundreds of hidden buttons.
    let open = use_state_with(|| false);
    // Text, not `search`: Escape in a search field clears it rather than
    // closing the picker.
    let search_field = use_node_ref();
    // Opened: the search is where typing goes, and the names are read once.
    let ontoggle = {
        let (groups, query, search_field) = (groups.clone(), query.clone(), search_field.clone());
        let open = open.clone();
        Callback::from(move |e: Event| {
            let picker: HtmlElement = e.target_unchecked_into();
            let opened = picker.matches(":popover-open").unwrap_or(false);
            open.set(opened);
            if !opened {
                return;
            }
            query.set(String::new());
            if let Some(field) = search_field.cast::<HtmlInputElement>() {
                field.set_value("");
                let _ = field.focus();
            }
            if groups.is_none() {
                load(&groups);
            }
        })
    };
    let pick = {
        let (on_pick, recent) = (props.on_pick.clone(), recent.clone());
        move |emoji: String| {
            let picker = gloo::utils::document().get_element_by_id(ID);
            let id = picker
                .as_ref()
                .and_then(|picker| picker.get_attribute("data-for"))
                .and_then(|id| id.parse().ok());
            if let Some(id) = id {
                on_pick.emit((id, emoji.clone()));
            }
            let now = remember(&recent, &emoji);
            let _ = LocalStorage::set(RECENT_KEY, &now);
            recent.set(now);
            if let Some(picker) = picker.and_then(|el| el.dyn_into::<HtmlElement>().ok()) {
                let _ = picker.hide_popover();
            }
        }
    };
    // One handler for every emoji button (it says which in `data-emoji`).
    let onclick = {
        let pick = pick.clone();
        Callback::from(move |e: MouseEvent| {
            let emoji = e
                .target_dyn_into::<Element>()
                .and_then(|target| target.closest("[data-emoji]").ok().flatten())
                .and_then(|button| button.get_attribute("data-emoji"));
            if let Some(emoji) = emoji {
                pick(emoji);
            }
        })
    };
    let shown = groups.as_deref().map(Vec::as_slice).unwrap_or_default();
    let found = search(shown, &query);
    let oninput = {
        let query = query.clone();
        Callback::from(move |e: InputEvent| {
            query.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let onkeydown = {
        let first = found.first().map(|(emoji, _)| emoji.clone());
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" {
                e.prevent_default();
                if let Some(first) = first.clone() {
                    pick(first);
                }
            }
        })
    };
    let recently: Vec<(String, String)> = if recent.is_empty() {
        COMMON
            .iter()
            .map(|e| ((*e).to_owned(), (*e).to_owned()))
            .collect()
    } else {
        recent.iter().map(|e| (e.clone(), e.clone())).collect()
    };
    let current = (*tab).min(shown.len().saturating_sub(1));
    html! {
        <div id={ID} class="emoji-picker" popover="auto" {ontoggle} role="dialog" aria-label={tr(T::PickReaction)}>
            <input ref={search_field} type="text" class="emoji-search" {oninput} {onkeydown}
                placeholder={tr(T::EmojiSearchPlaceholder)} aria-label={tr(T::SearchEmoji)}
                autocomplete="off" />
            <div class="emoji-body" {onclick}>
                if !*open {
                } else if query.trim().is_empty() {
                    { grid(tr(T::RecentlyUsed), &recently) }
                    if let Some(group) = shown.get(current) {
                        <div class="emoji-tabs" role="group" aria-label={tr(T::EmojiGroups)}>
                            { for shown.iter().enumerate().map(|(at, group)| tab_button(&tab, at, group, at == current)) }
                        </div>
                        { grid(&group.name, &group.emoji.iter().map(|e| (e.glyph.clone(), e.name.clone())).collect::<Vec<_>>()) }
                    }
                } else if found.is_empty() {
                    <p class="hint">{ tr(T::NoEmoji) }</p>
                } else {
                    { grid(tr(T::Found), &found) }
                }
            </div>
        </div>
    }
}

/// A group's tab: its first emoji, named.
fn tab_button(tab: &UseStateHandle<usize>, at: usize, group: &Group, pressed: bool) -> Html {
    let onclick = {
        let tab = tab.clone();
        Callback::from(move |e: MouseEvent| {
            // Not a pick: the grid's handler must not see it.
            e.stop_propagation();
            tab.set(at);
        })
    };
    let icon = group
        .emoji
        .first()
        .map(|e| e.glyph.clone())
        .unwrap_or_default();
    html! {
        <button type="button" {onclick} aria-pressed={pressed.to_string()} aria-label={group.name.clone()}
            title={group.name.clone()}>{ icon }</button>
    }
}

/// A titled grid of emoji buttons, each named (`(emoji, name)`).
fn grid(title: &str, emoji: &[(String, String)]) -> Html {
    html! {
        <section class="emoji-grid" aria-label={title.to_owned()}>
            <h2>{ title }</h2>
            { for emoji.iter().map(|(glyph, name)| html! {
                <button type="button" class="pick" data-emoji={glyph.clone()} aria-label={name.clone()}
                    title={name.clone()}>{ glyph }</button>
            }) }
        </section>
    }
}

/// Reads the emoji data the page names (`<meta name="emoji-data">`).
fn load(groups: &UseStateHandle<Option<Rc<Vec<Group>>>>) {
    let path = gloo::utils::document()
        .query_selector("meta[name=emoji-data]")
        .ok()
        .flatten()
        .and_then(|meta| meta.get_attribute("content"));
    let Some(path) = path else {
        return;
    };
    let groups = groups.clone();
    spawn_local(async move {
        if let Ok(text) = api::call("GET", &path, None).await {
            let read = json::parse(&text)
                .map(|data| read_groups(&data))
                .unwrap_or_default();
            groups.set(Some(Rc::new(read)));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Vec<Group> {
        let json = r#"[["Smileys & Emotion",[["😀","grinning face","grinning"],["😂","face with tears of joy","joy"]]],
            ["People & Body",[["👍","thumbs up","+1 thumbsup"],["odd"]]],"not a group"]"#;
        let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
        read_groups(&&value)
    }

    #[test]
    fn the_data_reads_as_groups_of_named_emoji() {
        let groups = data();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1].name, "People & Body");
        assert_eq!(groups[1].emoji.len(), 1, "an unreadable emoji is left out");
        assert_eq!(groups[1].emoji[0].codes, "+1 thumbsup");
    }

    #[test]
    fn a_search_finds_by_name_and_shortcode_and_offers_a_typed_emoji() {
        let groups = data();
        let glyphs = |typed: &str| -> Vec<String> {
            search(&groups, typed)
                .into_iter()
                .map(|(glyph, _)| glyph)
                .collect()
        };
        assert_eq!(glyphs("tears"), ["😂"]);
        assert_eq!(
            glyphs(":thumbs"),
            ["👍"],
            "a shortcode's beginning, colon and all"
        );
        assert_eq!(glyphs("Face"), ["😀", "😂"], "any case");
        assert_eq!(glyphs("🦀"), ["🦀"], "an emoji the data lacks, typed");
        assert_eq!(glyphs("😂"), ["😂"], "once");
        assert!(glyphs("nothing like it").is_empty());
        assert!(glyphs("   ").is_empty());
    }

    #[test]
    fn the_last_used_comes_first_once_and_the_list_is_bounded() {
        let recent: Vec<String> = (0..RECENT_MAX).map(|n| n.to_string()).collect();
        let now = remember(&recent, "5");
        assert_eq!(now[0], "5");
        assert_eq!(now.iter().filter(|e| *e == "5").count(), 1);
        let now = remember(&now, "👍");
        assert_eq!(now.len(), RECENT_MAX);
        assert_eq!(now[0], "👍");
    }
}
