//! Who is online: a count in the top bar that opens the list (a menu, see
//! `menu`).

use std::rc::Rc;

use crate::i18n::{t, tr, T};
use yew::prelude::*;

use crate::components::menu::menu;

/// The mark of a claimed name, wherever a name is shown: a member, not a
/// guest who picked the name.
pub fn member_mark(claimed: bool) -> Html {
    if claimed {
        html! { <span class="member" title={tr(T::ClaimedName)} aria-label={tr(T::ClaimedNameLabel)}>{ "✔" }</span> }
    } else {
        Html::default()
    }
}

/// The first `users` online (`count` is everyone, more than `users` in a
/// big room), `me` marked "(you)" (a function, not a component: each
/// component type costs the client about 0.65 KB). For a
/// moderator, each other name has a button to moderate it (`on_moderate`).
pub fn people(
    users: &Rc<Vec<String>>,
    members: &[String],
    count: usize,
    me: Option<&str>,
    on_moderate: Option<&Callback<String>>,
) -> Html {
    let count = count.max(users.len());
    let unnamed = count - users.len();
    let body = html! {
        <ul class="people-list" aria-label={tr(T::Online)}>
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
                        if mine { <span class="you">{ tr(T::You) }</span> }
                        if let Some(onclick) = moderate {
                            <button class="moderate" {onclick}
                                aria-label={t::moderate_person(user)}>{ tr(T::Moderate) }</button>
                        }
                    </li>
                }
            }) }
            if unnamed > 0 {
                <li class="more">{ t::and_more(unnamed as u64) }</li>
            }
        </ul>
    };
    menu(
        "people",
        "people-menu",
        html! { t::online_count(count as u64) },
        None,
        None,
        body,
    )
}
