//! The message input and its Send button; also where a reply is written
//! (the message it answers quoted above) and a message of ours edited.

use std::rc::Rc;

use crate::i18n::{t, tr, T};
use protocol::{validate_message, MESSAGE_MAX_CHARS};
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// Most names the mention list offers at once.
const MAX_SUGGESTIONS: usize = 8;

use crate::effects::{use_effect_on, use_mut_ref_with, use_state_with};
use crate::state::drafts;
pub use crate::state::drafts::Draft;

#[derive(Properties, PartialEq)]
pub struct ComposerProps {
    /// The room written in: its text is kept per room, across reloads.
    pub room: String,
    pub online: bool,
    pub draft: Draft,
    /// Who may be mentioned: the room's online names (not ours).
    pub names: Rc<Vec<String>>,
    /// A new message or a reply: (text, the message it answers).
    pub on_send: Callback<(String, Option<u64>)>,
    /// New text for one of our messages: (id, text).
    pub on_edit: Callback<(u64, String)>,
    /// Back to a new message (Escape, Cancel, or once sent).
    pub on_cancel: Callback<()>,
    /// The Up arrow in an empty composer: edit our last message.
    pub on_edit_last: Callback<()>,
    /// Called on every edit; the room decides how often to tell the others.
    pub on_typing: Callback<()>,
}

/// Characters left before the counter shows up.
const COUNTER_THRESHOLD: usize = 200;

#[component]
pub fn Composer(props: &ComposerProps) -> Html {
    let draft = use_state_with(|| drafts::load_text(&props.room));
    let input = use_node_ref();
    let verdict = validate_message(&draft).map(str::to_owned);
    // Offline, a message is queued: it goes out when the connection is back.
    let can_send = verdict.is_ok();
    // Entering the room (or coming back to it after a reload) puts the
    // cursor where the user will type.
    use_effect_on((), {
        let input = input.clone();
        move |()| {
            if let Some(input) = input.cast::<HtmlTextAreaElement>() {
                let _ = input.focus();
            }
        }
    });

    // Editing starts from the text being edited; replying or leaving an
    // edit starts from an empty box. Either way the cursor goes there.
    // (Entering a room where an edit was under way, its text is the one
    // kept, not the original.)
    let entered = use_mut_ref_with(|| false);
    use_effect_on(props.draft.clone(), {
        let input = input.clone();
        let draft = draft.clone();
        move |mode: &Draft| {
            let entering = !entered.replace(true);
            match mode {
                Draft::Edit { .. } if entering && !draft.is_empty() => {}
                Draft::Edit { original, .. } => draft.set(original.clone()),
                Draft::New | Draft::Reply { .. } => {}
            }
            if let Some(input) = input.cast::<HtmlTextAreaElement>() {
                let _ = input.focus();
            }
        }
    });

    let send = sender(props, &draft, &input);
    // The `@name` being typed, and the names it may become.
    let caret = use_state_with(|| 0_usize);
    let chosen = use_state_with(|| 0_usize);
    let dismissed = use_state_with(|| None::<usize>);
    let typing_mention = mention_at(&draft, *caret).filter(|&(at, _)| *dismissed != Some(at));
    let offered = typing_mention
        .map(|(_, typed)| suggestions(&props.names, typed))
        .unwrap_or_default();
    let chosen_index = (*chosen).min(offered.len().saturating_sub(1));
    // Where the caret goes once a picked name is in the box.
    let place_caret = use_mut_ref_with(|| None::<u32>);
    use_effect({
        let input = input.clone();
        let place_caret = place_caret.clone();
        move || {
            if let (Some(at), Some(input)) = (
                place_caret.borrow_mut().take(),
                input.cast::<HtmlTextAreaElement>(),
            ) {
                let _ = input.set_selection_range(at, at);
            }
        }
    });
    let pick = {
        let draft = draft.clone();
        let caret = caret.clone();
        let typing_mention = typing_mention.map(|(at, _)| at);
        let place_caret = place_caret.clone();
        Callback::from(move |name: String| {
            let Some(at) = typing_mention else { return };
            let (text, after) = complete(&draft, at, *caret, &name);
            *place_caret.borrow_mut() = u32::try_from(text[..after].encode_utf16().count()).ok();
            caret.set(after);
            draft.set(text);
        })
    };
    let oninput = on_input(props, &draft, &caret, &chosen, &dismissed);
    let cancel = canceller(props, &draft);
    let onkeydown = on_keydown(
        KeyContext {
            empty: draft.is_empty(),
            new: props.draft == Draft::New,
            on_edit_last: props.on_edit_last.clone(),
            offered: offered.clone(),
            chosen: chosen.clone(),
            chosen_index,
            dismissed: dismissed.clone(),
            pick: pick.clone(),
            mention_at: typing_mention.map(|(at, _)| at),
        },
        send.clone(),
        cancel.clone(),
    );
    let cancel_click = Callback::from(move |_: MouseEvent| cancel());
    let onsubmit = {
        let send = send.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            send();
        })
    };
    let chars = draft.chars().count();
    let left = MESSAGE_MAX_CHARS as i64 - chars as i64;
    let editing = matches!(props.draft, Draft::Edit { .. });
    let (button_text, button_title) = submit_words(props.online, editing);
    // An edit is not queued: it needs the connection.
    let can_submit = can_send && (props.online || !editing);
    let banner = draft_banner(&props.draft);
    let listing = !offered.is_empty();
    html! {
        <form class="composer" {onsubmit} data-draft={match props.draft {
            Draft::New => None,
            Draft::Reply { .. } => Some("reply"),
            Draft::Edit { .. } => Some("edit"),
        }}>
            if let Some(banner) = banner {
                <div class="draft-banner">
                    { banner }
                    <button type="button" class="cancel-draft" onclick={cancel_click}>{ tr(T::Cancel) }</button>
                </div>
            }
            if listing {
                <ul class="mention-list" id="mention-list" role="listbox"
                    aria-label={tr(T::PeopleToMention)}>{ mention_options(&offered, chosen_index, &pick) }</ul>
            }
            <label for="message" class="visually-hidden">{ tr(T::Message) }</label>
            // The box grows with its text in every browser: a hidden copy
            // of the text sizes the grid cell both share (CSS
            // `field-sizing` is Chromium's alone).
            <div class="grow" data-text={(*draft).clone()}>
                <textarea
                    id="message"
                    ref={input}
                    rows="1"
                    placeholder={tr(T::WriteMessage)}
                    value={(*draft).clone()}
                    {oninput}
                    {onkeydown}
                    aria-describedby="message-help"
                    aria-invalid={(left < 0).to_string()}
                    aria-autocomplete="list"
                    aria-controls={listing.then_some("mention-list")}
                    aria-activedescendant={listing.then(|| format!("mention-{chosen_index}"))}
                />
            </div>
            <span id="message-help" class="counter" aria-live="polite">
                { counter_text(left) }
            </span>
            <button type="submit" class="primary" disabled={!can_submit} title={button_title}>
                { button_text }
            </button>
        </form>
    }
}

/// Sends what the box holds now, read from the box itself: typing and
/// Enter can arrive in one burst, before a render (Firefox delivers a fast
/// typist's keys, a paste then Enter, an input method's commit that way),
/// and the text of the last render would lose the end of it.
fn sender(
    props: &ComposerProps,
    draft: &UseStateHandle<String>,
    input: &NodeRef,
) -> impl Fn() + Clone + 'static {
    let draft = draft.clone();
    let room = props.room.clone();
    let mode = props.draft.clone();
    let on_send = props.on_send.clone();
    let on_edit = props.on_edit.clone();
    let on_cancel = props.on_cancel.clone();
    let input = input.clone();
    move || {
        let Some(field) = input.cast::<HtmlTextAreaElement>() else {
            return;
        };
        if let Ok(text) = validate_message(&field.value()).map(str::to_owned) {
            match &mode {
                Draft::New => on_send.emit((text.clone(), None)),
                Draft::Reply { id, .. } => on_send.emit((text.clone(), Some(*id))),
                Draft::Edit { id, .. } => on_edit.emit((*id, text.clone())),
            }
            if mode != Draft::New {
                on_cancel.emit(());
            }
            draft.set(String::new());
            drafts::save_text(&room, "");
            field.set_value("");
            let _ = field.focus();
        }
    }
}

/// Typing: the room's draft kept, the others told (a blank box is no
/// typing), and the `@name` under the caret followed.
fn on_input(
    props: &ComposerProps,
    draft: &UseStateHandle<String>,
    caret: &UseStateHandle<usize>,
    chosen: &UseStateHandle<usize>,
    dismissed: &UseStateHandle<Option<usize>>,
) -> Callback<InputEvent> {
    let (draft, caret, chosen, dismissed) = (
        draft.clone(),
        caret.clone(),
        chosen.clone(),
        dismissed.clone(),
    );
    let on_typing = props.on_typing.clone();
    let room = props.room.clone();
    Callback::from(move |e: InputEvent| {
        let field = e.target_unchecked_into::<HtmlTextAreaElement>();
        let text = field.value();
        drafts::save_text(&room, &text);
        if !text.trim().is_empty() {
            on_typing.emit(());
        }
        let at = field.selection_start().ok().flatten().unwrap_or(0);
        caret.set(byte_offset(&text, at));
        chosen.set(0);
        if mention_at(&text, byte_offset(&text, at)).is_none() {
            dismissed.set(None);
        }
        draft.set(text)
    })
}

/// Leaves a reply or an edit (an edit's text goes with it).
fn canceller(props: &ComposerProps, draft: &UseStateHandle<String>) -> impl Fn() + Clone + 'static {
    let draft = draft.clone();
    let editing = matches!(props.draft, Draft::Edit { .. });
    let on_cancel = props.on_cancel.clone();
    let room = props.room.clone();
    move || {
        if editing {
            draft.set(String::new());
            drafts::save_text(&room, "");
        }
        on_cancel.emit(());
    }
}

/// What the composer's keys do, from what it knows at this render.
struct KeyContext {
    /// The box is empty, and writes a new message (not a reply or edit).
    empty: bool,
    new: bool,
    on_edit_last: Callback<()>,
    /// The names offered for the `@name` being typed, and the one chosen.
    offered: Vec<String>,
    chosen: UseStateHandle<usize>,
    chosen_index: usize,
    dismissed: UseStateHandle<Option<usize>>,
    pick: Callback<String>,
    /// Where the `@` of the name being typed is.
    mention_at: Option<usize>,
}

/// Enter sends (Shift+Enter is a new line), Escape leaves a reply or an
/// edit, Up in an empty box edits our last message; while names are
/// offered, Up and Down choose, Enter or Tab takes, Escape closes.
fn on_keydown(
    keys: KeyContext,
    send: impl Fn() + 'static,
    cancel: impl Fn() + 'static,
) -> Callback<KeyboardEvent> {
    let KeyContext {
        empty,
        new,
        on_edit_last,
        offered,
        chosen,
        chosen_index,
        dismissed,
        pick,
        mention_at,
    } = keys;
    Callback::from(move |e: KeyboardEvent| {
        // While an input method is composing (Chinese, Japanese, Korean),
        // Enter confirms the composition; 229 is what Safari reports then.
        let composing = e.is_composing() || e.key_code() == 229;
        if !offered.is_empty() && !composing {
            let moved = match e.key().as_str() {
                "ArrowDown" => Some((chosen_index + 1) % offered.len()),
                "ArrowUp" => Some((chosen_index + offered.len() - 1) % offered.len()),
                _ => None,
            };
            if let Some(next) = moved {
                e.prevent_default();
                chosen.set(next);
                return;
            }
            match e.key().as_str() {
                "Enter" | "Tab" => {
                    e.prevent_default();
                    pick.emit(offered[chosen_index].clone());
                    return;
                }
                "Escape" => {
                    e.prevent_default();
                    dismissed.set(mention_at);
                    return;
                }
                _ => {}
            }
        }
        match e.key().as_str() {
            "Enter" if !e.shift_key() && !composing => {
                e.prevent_default();
                send();
            }
            "Escape" if !new => {
                e.prevent_default();
                cancel();
            }
            "ArrowUp" if empty && new => {
                e.prevent_default();
                on_edit_last.emit(());
            }
            _ => {}
        }
    })
}

/// The submit button's word and title, online or not, editing or not.
fn submit_words(online: bool, editing: bool) -> (&'static str, &'static str) {
    let (word, title) = match (online, editing) {
        (true, true) => (T::Save, T::SaveTitle),
        (false, true) => (T::Save, T::SaveOfflineTitle),
        (true, false) => (T::Send, T::SendTitle),
        (false, false) => (T::Queue, T::QueueTitle),
    };
    (tr(word), tr(title))
}

/// What the composer writes, above the box: the message a reply answers,
/// or that an edit is under way.
fn draft_banner(draft: &Draft) -> Option<Html> {
    match draft {
        Draft::New => None,
        Draft::Reply { user, excerpt, .. } => Some(html! {
            <span class="drafting">
                { tr(T::ReplyingTo) }<strong>{ user }</strong>{ tr(T::ReplyingToEnd) }
                <span class="quote-text">{ excerpt }</span>
            </span>
        }),
        Draft::Edit { .. } => Some(html! {
            <span class="drafting">{ tr(T::EditingMessage) }</span>
        }),
    }
}

/// The names offered for the `@name` being typed, `chosen` marked.
fn mention_options(offered: &[String], chosen: usize, pick: &Callback<String>) -> Html {
    offered
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let choose = {
                let pick = pick.clone();
                let name = name.clone();
                Callback::from(move |e: MouseEvent| {
                    // Before the box loses focus.
                    e.prevent_default();
                    pick.emit(name.clone());
                })
            };
            html! {
                <li role="option" id={format!("mention-{index}")}
                    aria-selected={(index == chosen).to_string()} onmousedown={choose}>
                    { format!("@{name}") }
                </li>
            }
        })
        .collect()
}

/// The `@name` being typed at `caret` (a byte offset in `text`): where
/// its `@` is and what follows it so far. An `@` counts at the start of a
/// word only (`bob@example.com` mentions nobody).
fn mention_at(text: &str, caret: usize) -> Option<(usize, &str)> {
    let before = text.get(..caret)?;
    let at = before.rfind('@')?;
    let typed = &before[at + 1..];
    let starts_word = before[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !crate::lower::is_alphanumeric(c));
    (starts_word && !typed.chars().any(char::is_whitespace)).then_some((at, typed))
}

/// The names that begin with `typed` (whatever the case), at most
/// [`MAX_SUGGESTIONS`]; names with a space cannot be mentioned.
fn suggestions(names: &[String], typed: &str) -> Vec<String> {
    let typed = crate::lower::lower(typed);
    names
        .iter()
        .filter(|name| !name.contains(char::is_whitespace))
        .filter(|name| crate::lower::lower(name).starts_with(&typed))
        .take(MAX_SUGGESTIONS)
        .cloned()
        .collect()
}

/// `text` with the `@...` from `at` to `caret` replaced by `@name `, and
/// the byte offset after it.
fn complete(text: &str, at: usize, caret: usize, name: &str) -> (String, usize) {
    let inserted = format!("@{name} ");
    let rest = text.get(caret..).unwrap_or_default();
    let text = format!("{}{inserted}{rest}", &text[..at.min(text.len())]);
    (text, at + inserted.len())
}

/// The byte offset of the UTF-16 offset `at` in `text` (what a text box
/// reports as its caret).
fn byte_offset(text: &str, at: u32) -> usize {
    let mut units = 0;
    for (offset, c) in text.char_indices() {
        if units >= at as usize {
            return offset;
        }
        units += c.len_utf16();
    }
    text.len()
}

/// What the counter says with `left` characters to go: nothing while far
/// from the limit, then how many are left or how many too many, in words.
fn counter_text(left: i64) -> String {
    if left >= COUNTER_THRESHOLD as i64 {
        return String::new();
    }
    if left >= 0 {
        t::characters_left(left as u64)
    } else {
        t::characters_over(left.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mention_is_an_at_at_the_start_of_a_word_up_to_the_caret() {
        assert_eq!(mention_at("hi @al", 6), Some((3, "al")));
        assert_eq!(mention_at("@", 1), Some((0, "")));
        assert_eq!(mention_at("mail bob@ex", 11), None);
        assert_eq!(mention_at("@al and more", 12), None);
        assert_eq!(mention_at("(@闲", 5), Some((1, "闲")));
        let names: Vec<String> = ["Alice", "alfred", "bob", "al bundy"]
            .iter()
            .map(|name| (*name).to_owned())
            .collect();
        assert_eq!(suggestions(&names, "AL"), ["Alice", "alfred"]);
        assert_eq!(
            complete("hi @al", 3, 6, "Alice"),
            ("hi @Alice ".to_owned(), 10)
        );
        assert_eq!(complete("@a, x", 0, 2, "amy"), ("@amy , x".to_owned(), 5));
        // The caret as a text box reports it: UTF-16 code units.
        assert_eq!(byte_offset("🦀 @a", 3), 5);
        assert_eq!(byte_offset("ab", 9), 2);
    }

    #[test]
    fn the_counter_says_it_in_words() {
        assert_eq!(counter_text(500), "");
        assert_eq!(counter_text(150), "150 characters left");
        assert_eq!(counter_text(1), "1 character left");
        assert_eq!(counter_text(0), "0 characters left");
        assert_eq!(counter_text(-1), "1 character over the limit");
        assert_eq!(counter_text(-12), "12 characters over the limit");
    }
}
