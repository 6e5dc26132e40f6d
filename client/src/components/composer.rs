//! The message input and its Send button.

use protocol::{validate_message, MESSAGE_MAX_CHARS};
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ComposerProps {
    pub online: bool,
    pub on_send: Callback<String>,
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

    let send = {
        let draft = draft.clone();
        let on_send = props.on_send.clone();
        let input = input.clone();
        move || {
            if let Ok(text) = &verdict {
                on_send.emit(text.clone());
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
    let onkeydown = {
        let send = send.clone();
        Callback::from(move |e: KeyboardEvent| {
            // While an input method is composing (Chinese, Japanese, Korean),
            // Enter confirms the composition; 229 is what Safari reports then.
            let composing = e.is_composing() || e.key_code() == 229;
            if e.key() == "Enter" && !e.shift_key() && !composing {
                e.prevent_default();
                if can_send {
                    send();
                }
            }
        })
    };
    let onsubmit = Callback::from(move |e: SubmitEvent| {
        e.prevent_default();
        if can_send {
            send();
        }
    });
    let chars = draft.chars().count();
    let left = MESSAGE_MAX_CHARS as i64 - chars as i64;
    let (button_text, button_title) = if props.online {
        ("Send", "Send the message")
    } else {
        (
            "Queue (offline)",
            "You are offline: the message is kept and sent when the connection is back",
        )
    };

    html! {
        <form class="composer" {onsubmit}>
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
            <button type="submit" class="primary" disabled={!can_send} title={button_title}>
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
