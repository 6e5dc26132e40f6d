//! Who is online: a count in the top bar that opens the list, which closes
//! again on Escape, or when focus leaves it (a click elsewhere, Tab).

use std::rc::Rc;

use wasm_bindgen::JsCast;
use yew::prelude::*;

/// The mark of a claimed name, wherever a name is shown: a member, not a
/// guest who picked the name.
pub fn member_mark(claimed: bool) -> Html {
    if claimed {
        html! { <span class="member" title="Claimed name" aria-label="(claimed name)">{ "✔" }</span> }
    } else {
        Html::default()
    }
}

/// The first `users` online (`count` is everyone, more than `users` in a
/// big room), `me` marked "(you)"; `open` is the page's (a function, not a
/// component: each component type costs the client about 0.65 KB). For a
/// moderator, each other name has a button to moderate it (`on_moderate`).
pub fn people(
    users: &Rc<Vec<String>>,
    members: &[String],
    count: usize,
    me: Option<&str>,
    open: &UseStateHandle<bool>,
    on_moderate: Option<&Callback<String>>,
) -> Html {
    let toggle = {
        let open = open.clone();
        Callback::from(move |_| open.set(!*open))
    };
    let onkeydown = {
        let open = open.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                open.set(false);
            }
        })
    };
    // Focus leaving the toggle and the list's buttons leaves the list.
    let onfocusout = {
        let open = open.clone();
        Callback::from(move |e: FocusEvent| {
            let node = |target: Option<web_sys::EventTarget>| {
                target.and_then(|target| target.dyn_into::<web_sys::Node>().ok())
            };
            let within = node(e.current_target())
                .is_some_and(|list| list.contains(node(e.related_target()).as_ref()));
            if !within {
                open.set(false);
            }
        })
    };
    let count = count.max(users.len());
    let unnamed = count - users.len();
    html! {
        <div class="people" {onkeydown} {onfocusout}>
            <button class="people-toggle" onclick={toggle} aria-expanded={open.to_string()}
                aria-controls="people-list">
                { format!("{count} online") }
            </button>
            if **open {
                <ul id="people-list" class="people-list" aria-label="Online">
                    { for users.iter().map(|user| {
                        let mine = me == Some(user.as_str());
                        let moderate = on_moderate.filter(|_| !mine).map(|on_moderate| {
                            let name = user.clone();
                            on_moderate.reform(move |_: MouseEvent| name.clone())
                        });
                        html! {
                            <li key={user.clone()}>
                                { user }
                                { member_mark(members.contains(user)) }
                                if mine { <span class="you">{ " (you)" }</span> }
                                if let Some(onclick) = moderate {
                                    <button class="moderate" {onclick}
                                        aria-label={format!("Moderate {user}")}>{ "Moderate" }</button>
                                }
                            </li>
                        }
                    }) }
                    if unnamed > 0 {
                        <li class="more">{ format!("and {unnamed} more") }</li>
                    }
                </ul>
            }
        </div>
    }
}
