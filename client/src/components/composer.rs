//! The message input and its Send button; also where a reply is written
//! (the message it answers quoted above) and a message of ours edited.

use protocol::{validate_message, MESSAGE_MAX_CHARS};
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// What the composer is writing.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Draft {
    #[default]
    New,
    /// A reply to message `id` by `user`, which begins `excerpt`.
    Reply {
        id: u64,
        user: String,
        excerpt: String,
    },
    /// New text for our message `id`, which reads `original`.
    Edit { id: u64, original: String },
}

#[derive(Properties, PartialEq)]
pub struct ComposerProps {
    pub online: bool,
    pub draft: Draft,
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
    let draft = use_state(String::new);
    let input = use_node_ref();
    let verdict = validate_message(&draft).map(str::to_owned);
    // Offline, a message is queued: it goes out when the connection is back.
    let can_send = verdict.is_ok();
    // Entering the room (or coming back to it after a reload) puts the
    // cursor where the user will type.
    use_effect_with((), {
        let input = input.clone();
        move |()| {
            if let Some(input) = input.cast::<HtmlTextAreaElement>() {
                let _ = input.focus();
            }
        }
    });

    // Editing starts from the text being edited; replying or leaving an
    // edit starts from an empty box. Either way the cursor goes there.
    use_effect_with(props.draft.clone(), {
        let input = input.clone();
        let draft = draft.clone();
        move |mode: &Draft| {
            match mode {
                Draft::Edit { original, .. } => draft.set(original.clone()),
                Draft::New | Draft::Reply { .. } => {}
            }
            if let Some(input) = input.cast::<HtmlTextAreaElement>() {
                let _ = input.focus();
            }
        }
    });

    let send = {
        let draft = draft.clone();
        let mode = props.draft.clone();
        let on_send = props.on_send.clone();
        let on_edit = props.on_edit.clone();
        let on_cancel = props.on_cancel.clone();
        let input = input.clone();
        move || {
            if let Ok(text) = &verdict {
                match &mode {
                    Draft::New => on_send.emit((text.clone(), None)),
                    Draft::Reply { id, .. } => on_send.emit((text.clone(), Some(*id))),
                    Draft::Edit { id, .. } => on_edit.emit((*id, text.clone())),
                }
                if mode != Draft::New {
                    on_cancel.emit(());
                }
                draft.set(String::new());
                if let Some(input) = input.cast::<HtmlTextAreaElement>() {
                    let _ = input.focus();
                }
            }
        }
    };
    let oninput = {
        let draft = draft.clone();
        let on_typing = props.on_typing.clone();
        Callback::from(move |e: InputEvent| {
            let text = e.target_unchecked_into::<HtmlTextAreaElement>().value();
            if !text.trim().is_empty() {
                on_typing.emit(());
            }
            draft.set(text)
        })
    };
    let cancel = {
        let draft = draft.clone();
        let editing = matches!(props.draft, Draft::Edit { .. });
        let on_cancel = props.on_cancel.clone();
        move || {
            if editing {
                draft.set(String::new());
            }
            on_cancel.emit(());
        }
    };
    let onkeydown = {
        let send = send.clone();
        let cancel = cancel.clone();
        let empty = draft.is_empty();
        let new = props.draft == Draft::New;
        let on_edit_last = props.on_edit_last.clone();
        Callback::from(move |e: KeyboardEvent| {
            // While an input method is composing (Chinese, Japanese, Korean),
            // Enter confirms the composition; 229 is what Safari reports then.
            let composing = e.is_composing() || e.key_code() == 229;
            match e.key().as_str() {
                "Enter" if !e.shift_key() && !composing => {
                    e.prevent_default();
                    if can_send {
                        send();
                    }
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
    };
    let cancel_click = Callback::from(move |_: MouseEvent| cancel());
    let onsubmit = {
        let send = send.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if can_send {
                send();
            }
        })
    };
    let chars = draft.chars().count();
    let left = MESSAGE_MAX_CHARS as i64 - chars as i64;
    let editing = matches!(props.draft, Draft::Edit { .. });
    let (button_text, button_title) = match (props.online, editing) {
        (true, true) => ("Save", "Save the new text"),
        (false, true) => ("Save", "You are offline: edits wait for the connection"),
        (true, false) => ("Send", "Send the message"),
        (false, false) => (
            "Queue (offline)",
            "You are offline: the message is kept and sent when the connection is back",
        ),
    };
    // An edit is not queued: it needs the connection.
    let can_submit = can_send && (props.online || !editing);
    let banner = match &props.draft {
        Draft::New => None,
        Draft::Reply { user, excerpt, .. } => Some(html! {
            <span class="drafting">
                { "Replying to " }<strong>{ user }</strong>{ ": " }
                <span class="quote-text">{ excerpt }</span>
            </span>
        }),
        Draft::Edit { .. } => Some(html! {
            <span class="drafting">{ "Editing your message (Escape to cancel)" }</span>
        }),
    };

    html! {
        <form class="composer" {onsubmit} data-draft={match props.draft {
            Draft::New => None,
            Draft::Reply { .. } => Some("reply"),
            Draft::Edit { .. } => Some("edit"),
        }}>
            if let Some(banner) = banner {
                <div class="draft-banner">
                    { banner }
                    <button type="button" class="cancel-draft" onclick={cancel_click}>{ "Cancel" }</button>
                </div>
            }
            <label for="message" class="visually-hidden">{ "Message" }</label>
            // The box grows with its text in every browser: a hidden copy
            // of the text sizes the grid cell both share (CSS
            // `field-sizing` is Chromium's alone).
            <div class="grow" data-text={(*draft).clone()}>
                <textarea
                    id="message"
                    ref={input}
                    rows="1"
                    placeholder="Write a message…"
                    value={(*draft).clone()}
                    {oninput}
                    {onkeydown}
                    aria-describedby="message-help"
                    aria-invalid={(left < 0).to_string()}
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

/// What the counter says with `left` characters to go: nothing while far
/// from the limit, then how many are left or how many too many, in words.
fn counter_text(left: i64) -> String {
    if left >= COUNTER_THRESHOLD as i64 {
        return String::new();
    }
    let (count, state) = if left >= 0 {
        (left, "left")
    } else {
        (-left, "over the limit")
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} character{plural} {state}")
}

#[cfg(test)]
mod tests {
    use super::counter_text;

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
