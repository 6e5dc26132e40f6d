//! The list of messages: keyed by id, kept at the newest message while the
//! reader is at the bottom, left alone while they read older ones.

use std::rc::Rc;

use wasm_bindgen::JsValue;
use web_sys::Element;
use yew::prelude::*;

use crate::room_state::Entry;

/// How close to the bottom (in pixels) still counts as "at the bottom".
const BOTTOM_SLACK_PX: i32 = 48;

#[derive(Properties, PartialEq)]
pub struct MessageListProps {
    pub entries: Rc<Vec<Rc<Entry>>>,
}

#[component]
pub fn MessageList(props: &MessageListProps) -> Html {
    let list = use_node_ref();
    let at_bottom = use_mut_ref(|| true);
    let unseen = use_state(|| false);

    let onscroll = {
        let list = list.clone();
        let at_bottom = at_bottom.clone();
        let unseen = unseen.clone();
        Callback::from(move |_: Event| {
            if let Some(el) = list.cast::<Element>() {
                let bottom = is_at_bottom(&el);
                *at_bottom.borrow_mut() = bottom;
                if bottom && *unseen {
                    unseen.set(false);
                }
            }
        })
    };
    let newest = props.entries.last().map(|e| e.message.id);
    {
        let list = list.clone();
        let at_bottom = at_bottom.clone();
        let unseen = unseen.clone();
        use_effect_with(newest, move |_| {
            if let Some(el) = list.cast::<Element>() {
                if *at_bottom.borrow() {
                    el.set_scroll_top(el.scroll_height());
                } else {
                    unseen.set(true);
                }
            }
        });
    }
    let jump = {
        let list = list.clone();
        Callback::from(move |_| {
            if let Some(el) = list.cast::<Element>() {
                el.set_scroll_top(el.scroll_height());
            }
        })
    };

    html! {
        <div class="messages-wrap">
            <ol class="messages" ref={list} {onscroll} role="log" aria-live="polite"
                aria-relevant="additions" aria-label="Messages" tabindex="0">
                if props.entries.is_empty() {
                    <li class="empty">{ "No messages yet. Say hello!" }</li>
                }
                { for props.entries.iter().map(|entry| html! {
                    <MessageItem key={entry.message.id} entry={Rc::clone(entry)} />
                }) }
            </ol>
            if *unseen {
                <button class="jump" onclick={jump}>{ "New messages ↓" }</button>
            }
        </div>
    }
}

fn is_at_bottom(el: &Element) -> bool {
    el.scroll_height() - el.scroll_top() - el.client_height() <= BOTTOM_SLACK_PX
}

#[derive(Properties, PartialEq)]
struct MessageItemProps {
    entry: Rc<Entry>,
}

/// One message. Its props compare by pointer first, so appending to the list
/// re-renders only the new item.
#[component]
fn MessageItem(props: &MessageItemProps) -> Html {
    let Entry { message, own } = props.entry.as_ref();
    let date = js_sys::Date::new(&JsValue::from_f64(message.date_time as f64));
    let time = format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
    let iso = String::from(date.to_iso_string());
    let full = String::from(date.to_locale_string("default", &JsValue::UNDEFINED));
    html! {
        <li class={classes!("message", own.then_some("own"))} data-id={message.id.to_string()}>
            <div class="meta">
                <span class="author">{ &message.user }</span>
                <time datetime={iso} title={full}>{ time }</time>
            </div>
            <p class="text">{ &message.msg }</p>
        </li>
    }
}
