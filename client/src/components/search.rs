//! Search: the field in the top bar, and the panel of what it found (in
//! place of the room while open), newest first, each hit a link to the
//! message. Plain functions of the chat, not components (each component
//! type costs the client about 0.65 KB); the state is `state::search`.

use crate::i18n::{t, tr, Lang, T};
use protocol::Hit;
use wasm_bindgen::{JsCast, JsValue};
use yew::prelude::*;

use crate::components::route_link::route_link;
use crate::router::{Navigator, Route};
use crate::socket::ChatHandle;
use crate::state::search::Asked;
use crate::state::ChatAction;

/// The search field's id: the shortcuts focus it.
pub const FIELD: &str = "search";

/// Focuses the search field (the shortcut `Ctrl+Shift+F`).
pub fn focus_field() {
    if let Some(field) = field() {
        let _ = field.focus();
        field.select();
    }
}

fn field() -> Option<web_sys::HtmlInputElement> {
    gloo::utils::document()
        .get_element_by_id(FIELD)
        .and_then(|element| element.dyn_into().ok())
}

/// The question the field asks, of `room` (the one on screen) unless the
/// query names its own with `in:` (the server refuses a query whose
/// `in:` contradicts the room it is asked of).
fn question(q: &str, room: Option<&str>) -> Asked {
    let names_room = q.split_whitespace().any(|word| word.starts_with("in:"));
    Asked {
        q: q.trim().to_owned(),
        room: room.filter(|_| !names_room).map(str::to_owned),
    }
}

/// The search field: Enter searches the room on screen.
pub fn search_field(chat: &ChatHandle, room: Option<&str>) -> Html {
    let onsubmit = {
        let (search, room) = (chat.search.clone(), room.map(str::to_owned));
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(q) = field().map(|field| field.value()) else {
                return;
            };
            if !q.trim().is_empty() {
                search.emit(Some(question(&q, room.as_deref())));
            }
        })
    };
    html! {
        <form class="search" role="search" {onsubmit}>
            <input id={FIELD} type="search" name="q" placeholder={tr(T::Search)} maxlength="200"
                aria-label={tr(T::SearchMessages)} aria-keyshortcuts="Control+Shift+F"
                enterkeyhint="search" disabled={!chat.state.online()} />
        </form>
    }
}

/// The panel of what the search on screen found, if one is; `current`:
/// the room on screen (the panel offers to search it alone, or every
/// room).
pub fn search_panel(chat: &ChatHandle, current: Option<&str>, navigator: &Navigator) -> Html {
    let search = &chat.state.search;
    let Some(asked) = &search.asked else {
        return Html::default();
    };
    let dispatcher = chat.state.dispatcher();
    let close = Callback::from(move |()| dispatcher.dispatch(ChatAction::CloseSearch));
    let onkeydown = {
        let close = close.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                close.emit(());
            }
        })
    };
    let scope = match &asked.room {
        Some(room) => format!("#{room}"),
        None => tr(T::AllYourRooms).to_owned(),
    };
    // The other scope: every room, or the room on screen alone.
    let widen = match (&asked.room, current) {
        (Some(_), _) => Some((tr(T::SearchAllRooms).to_owned(), None)),
        (None, Some(room)) => Some((t::search_room_only(room), Some(room.to_owned()))),
        (None, None) => None,
    }
    .map(|(label, room)| {
        let (search, q) = (chat.search.clone(), asked.q.clone());
        let onclick = Callback::from(move |_| {
            search.emit(Some(Asked {
                q: q.clone(),
                room: room.clone(),
            }));
        });
        html! { <button class="scope" {onclick}>{ label }</button> }
    });
    let status = match (&search.error, search.hits.is_empty(), search.searching()) {
        (Some(error), _, _) => html! { <p class="notice" role="alert">{ error.clone() }</p> },
        (None, _, true) => html! { <p role="status">{ tr(T::Searching) }</p> },
        (None, true, false) => html! { <p role="status">{ tr(T::NoMatch) }</p> },
        (None, false, false) => Html::default(),
    };
    let more = chat.search.reform(|_| None);
    html! {
        <section class="search-results" aria-label={tr(T::SearchResults)} {onkeydown}>
            <header>
                <h2>{ t::results_for(&asked.q, &scope) }</h2>
                { for widen }
                <button class="dismiss" aria-label={tr(T::CloseSearch)} onclick={close.reform(|_| ())}>{ "×" }</button>
            </header>
            // A hit's link opens the message; the panel closes for it.
            <ol onclick={close.reform(|_| ())}>
                { for search.hits.iter().map(|hit| hit_item(hit, navigator)) }
            </ol>
            { status }
            if search.next.is_some() && !search.searching() {
                <button class="scope more" onclick={more}>{ tr(T::LoadMore) }</button>
            }
        </section>
    }
}

/// One hit: where and by whom, when, and its text with the matching
/// words marked; all of it a link to the message.
fn hit_item(hit: &Hit, navigator: &Navigator) -> Html {
    let date = js_sys::Date::new(&JsValue::from_f64(hit.date_time as f64));
    let to = Route::Message {
        room: hit.room.clone(),
        id: hit.id,
    };
    let shown = html! {
        <>
            <span class="hit-meta">
                { format!("#{} · ", hit.room) }
                <b>{ hit.user.clone() }</b>
                { format!(" · {}", String::from(date.to_locale_string(Lang::current().tag(), &JsValue::UNDEFINED))) }
            </span>
            <span class="hit-text">{ marked(&hit.msg, &hit.marks) }</span>
        </>
    };
    html! { <li>{ route_link(navigator, to, None, false, shown) }</li> }
}

/// `msg` with the characters `marks` covers (character offsets, in
/// order; any out of range or out of order are left unmarked) in
/// `<mark>`.
fn marked(msg: &str, marks: &[[usize; 2]]) -> Html {
    let pieces = pieces(msg, marks);
    html! {
        <>{ for pieces.into_iter().map(|(text, mark)| if mark {
            html! { <mark>{ text }</mark> }
        } else {
            html! { { text } }
        }) }</>
    }
}

/// `msg` cut at `marks`: each piece, and whether it is marked.
fn pieces(msg: &str, marks: &[[usize; 2]]) -> Vec<(String, bool)> {
    // Byte offset of each character, and of the end.
    let bytes: Vec<usize> = msg
        .char_indices()
        .map(|(at, _)| at)
        .chain([msg.len()])
        .collect();
    let mut pieces = Vec::new();
    let mut at = 0;
    for &[start, end] in marks {
        let (Some(&from), Some(&to)) = (bytes.get(start), bytes.get(end)) else {
            continue;
        };
        if from < at || to <= from {
            continue;
        }
        if at < from {
            pieces.push((msg[at..from].to_owned(), false));
        }
        pieces.push((msg[from..to].to_owned(), true));
        at = to;
    }
    if at < msg.len() {
        pieces.push((msg[at..].to_owned(), false));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(msg: &str, marks: &[[usize; 2]]) -> String {
        pieces(msg, marks)
            .into_iter()
            .map(|(text, mark)| if mark { format!("[{text}]") } else { text })
            .collect()
    }

    #[test]
    fn marks_are_characters_not_bytes() {
        assert_eq!(shown("你好世界和平", &[[2, 4]]), "你好[世界]和平");
        assert_eq!(
            shown("Café deploys", &[[0, 4], [5, 12]]),
            "[Café] [deploys]"
        );
    }

    #[test]
    fn marks_out_of_range_or_order_are_left_out() {
        assert_eq!(shown("hello", &[[0, 99]]), "hello");
        assert_eq!(shown("hello world", &[[6, 11], [0, 5]]), "hello [world]");
        assert_eq!(shown("hello", &[[3, 3], [usize::MAX, 0]]), "hello");
        assert_eq!(shown("", &[[0, 1]]), "");
    }

    #[test]
    fn in_names_its_own_room() {
        assert_eq!(
            question(" deploy ", Some("lobby")).room.as_deref(),
            Some("lobby")
        );
        assert_eq!(question("deploy in:rust", Some("lobby")).room, None);
        assert_eq!(
            question("deploy IN:rust", Some("lobby")).room.as_deref(),
            Some("lobby")
        );
        assert_eq!(question("deploy", None).room, None);
        assert_eq!(question(" deploy ", None).q, "deploy");
    }
}
