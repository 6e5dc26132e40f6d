//! The app's addresses, on the browser's History API: which page an
//! address shows, links that change it without a reload, and the back and
//! forward buttons.
//!
//! yew-router did this before, at 27 KB of the client's 173 KB gzip
//! (BENCHMARKS.md, "Web client size"): its generality (any history, typed
//! queries and history state through serde, a route recogniser) was most of
//! that, for four addresses.

use gloo::events::EventListener;
use wasm_bindgen::JsValue;
use yew::prelude::*;

use crate::effects::{use_effect_on, use_effect_undone, use_state_with};

/// A page of the app, by its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/login`
    Login,
    /// `/`: the server's default room.
    Home,
    /// `/r/<room>`
    Room { room: String },
    /// `/r/<room>/m/<id>`: a message's permalink, its room scrolled to it.
    Message { room: String, id: u64 },
    /// Any other address.
    NotFound,
}

impl Route {
    /// The page `path` (a URL's path, percent-encoded) shows.
    pub fn from_path(path: &str) -> Self {
        let trimmed = path.strip_suffix('/').unwrap_or(path);
        let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
        let decoded = |segment: &str| {
            urlencoding::decode(segment)
                .ok()
                .map(|room| room.into_owned())
                .filter(|room| !room.is_empty())
        };
        match segments.as_slice() {
            [] => Self::Home,
            ["login"] => Self::Login,
            ["r", room] => decoded(room).map_or(Self::NotFound, |room| Self::Room { room }),
            ["r", room, "m", id] => match (decoded(room), id.parse()) {
                (Some(room), Ok(id)) => Self::Message { room, id },
                _ => Self::NotFound,
            },
            _ => Self::NotFound,
        }
    }

    /// The page's address.
    pub fn to_path(&self) -> String {
        match self {
            Self::Login => "/login".to_owned(),
            Self::Home | Self::NotFound => "/".to_owned(),
            Self::Room { room } => format!("/r/{}", urlencoding::encode(room)),
            Self::Message { room, id } => format!("/r/{}/m/{id}", urlencoding::encode(room)),
        }
    }

    /// The page the browser's address shows now.
    fn current() -> Self {
        let path = gloo::utils::window().location().pathname();
        Self::from_path(&path.unwrap_or_default())
    }
}

/// The page shown, and the way to another.
#[derive(Clone, PartialEq)]
pub struct Navigator {
    route: Route,
    show: UseStateSetter<Route>,
}

impl Navigator {
    /// Shows `route` as a new entry of the history (back returns here).
    pub fn push(&self, route: &Route) {
        if let Ok(history) = gloo::utils::window().history() {
            let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&route.to_path()));
        }
        self.show.set(route.clone());
    }

    /// Shows `route` in place of this entry of the history.
    pub fn replace(&self, route: &Route) {
        if let Ok(history) = gloo::utils::window().history() {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&route.to_path()));
        }
        self.show.set(route.clone());
    }
}

/// The page shown and the way to another (inside [`Router`]).
#[hook]
pub fn use_navigator() -> Navigator {
    use_context::<Navigator>().expect("the app is inside a Router")
}

/// The page shown (inside [`Router`]).
#[hook]
pub fn use_route() -> Route {
    use_navigator().route
}

#[derive(Properties, PartialEq)]
pub struct RouterProps {
    /// The page for a route, or the route to show instead (in place of
    /// this entry of the history: back does not return to it).
    pub render: Callback<Route, Result<Html, Route>>,
}

/// Shows the page of the browser's address, and follows it through links
/// ([`Navigator::push`]) and the back and forward buttons.
#[component]
pub fn Router(props: &RouterProps) -> Html {
    let route = use_state_with(Route::current);
    use_effect_undone((), {
        let show = route.setter();
        move |()| {
            let window = gloo::utils::window();
            let listener =
                EventListener::new(&window, "popstate", move |_| show.set(Route::current()));
            move || drop(listener)
        }
    });
    let navigator = Navigator {
        route: (*route).clone(),
        show: route.setter(),
    };
    let page = props.render.emit((*route).clone());
    use_effect_on(page.as_ref().err().cloned(), {
        let navigator = navigator.clone();
        move |redirect: &Option<Route>| {
            if let Some(to) = redirect {
                navigator.replace(to);
            }
        }
    });
    html! {
        <ContextProvider<Navigator> context={navigator}>
            { page.unwrap_or_default() }
        </ContextProvider<Navigator>>
    }
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn every_page_reads_back_from_its_address() {
        let pages = [
            Route::Login,
            Route::Home,
            Route::Room {
                room: "rust".into(),
            },
            Route::Room {
                room: "闲聊".into(),
            },
            Route::Message {
                room: "闲聊".into(),
                id: 42,
            },
        ];
        for page in pages {
            assert_eq!(
                Route::from_path(&page.to_path()),
                page,
                "{}",
                page.to_path()
            );
        }
        assert_eq!(
            Route::Room {
                room: "闲聊".into()
            }
            .to_path(),
            "/r/%E9%97%B2%E8%81%8A"
        );
    }

    #[test]
    fn addresses_read_as_browsers_write_them() {
        assert_eq!(
            Route::from_path("/r/rust/"),
            Route::Room {
                room: "rust".into()
            }
        );
        assert_eq!(
            Route::from_path("/r/Rust/m/7"),
            Route::Message {
                room: "Rust".into(),
                id: 7
            }
        );
        for unknown in [
            "/r",
            "/r/",
            "/r/a/m/x",
            "/r/a/b",
            "/login/x",
            "/r/%FF",
            "/elsewhere",
        ] {
            assert_eq!(Route::from_path(unknown), Route::NotFound, "{unknown}");
        }
    }
}
