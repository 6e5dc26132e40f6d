//! Who is online: a count in the top bar that opens the list, which closes
//! again on Escape, or when focus leaves it (a click elsewhere, Tab).

use std::rc::Rc;

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct PeopleProps {
    pub users: Rc<Vec<String>>,
    /// Everyone online; more than `users` in a big room.
    pub count: usize,
    /// The name bound to us, marked "(you)".
    pub me: Option<String>,
}

#[component]
pub fn People(props: &PeopleProps) -> Html {
    let open = use_state(|| false);
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
    // The toggle is the list's only focusable element: focus leaving it
    // leaves the list.
    let onfocusout = {
        let open = open.clone();
        Callback::from(move |_: FocusEvent| open.set(false))
    };
    let count = props.count.max(props.users.len());
    let unnamed = count - props.users.len();
    html! {
        <div class="people" {onkeydown} {onfocusout}>
            <button class="people-toggle" onclick={toggle} aria-expanded={open.to_string()}
                aria-controls="people-list">
                { format!("{count} online") }
            </button>
            if *open {
                <ul id="people-list" class="people-list" aria-label="Online">
                    { for props.users.iter().map(|user| {
                        let mine = props.me.as_deref() == Some(user.as_str());
                        html! {
                            <li key={user.clone()}>
                                { user }
                                if mine { <span class="you">{ " (you)" }</span> }
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
