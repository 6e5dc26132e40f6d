//! Yew's effect, state and ref hooks, instantiated once per type rather
//! than once per closure. Every closure is a type of its own, and each
//! hook is generic over it: each call compiled a copy of the
//! hook's machinery (about 0.9 KB of wasm). Boxed, the effects of one
//! type share one copy (BENCHMARKS.md, "Web client size").

// The one place that calls them (see `client/clippy.toml`).
#![allow(clippy::disallowed_methods)]

use yew::functional::Hook;
use yew::prelude::*;

/// An effect without a teardown, boxed.
type Effect<T> = Box<dyn FnOnce(&T)>;

/// `use_effect_with(deps, effect)`, for an effect with nothing to undo.
pub fn use_effect_on<T: PartialEq + 'static>(
    deps: T,
    effect: impl FnOnce(&T) + 'static,
) -> impl Hook<Output = ()> {
    let effect: Effect<T> = Box::new(effect);
    use_effect_with(deps, effect)
}

/// An effect and what undoes it, boxed.
type Undone<T> = Box<dyn FnOnce(&T) -> Box<dyn FnOnce()>>;

/// `use_effect_with(deps, effect)`, for an effect that returns what
/// undoes it (run before the next, and when the component goes).
pub fn use_effect_undone<T: PartialEq + 'static, U: FnOnce() + 'static>(
    deps: T,
    effect: impl FnOnce(&T) -> U + 'static,
) -> impl Hook<Output = ()> {
    let effect: Undone<T> = Box::new(move |deps| Box::new(effect(deps)));
    use_effect_with(deps, effect)
}

/// `use_state(init)`, one copy per type of state.
pub fn use_state_with<'a, T: 'static>(
    init: impl FnOnce() -> T + 'a,
) -> impl Hook<Output = UseStateHandle<T>> + 'a {
    let init: Box<dyn FnOnce() -> T + 'a> = Box::new(init);
    use_state(init)
}

/// `use_mut_ref(init)`, one copy per type of what it holds.
pub fn use_mut_ref_with<'a, T: 'static>(
    init: impl FnOnce() -> T + 'a,
) -> impl Hook<Output = std::rc::Rc<std::cell::RefCell<T>>> + 'a {
    let init: Box<dyn FnOnce() -> T + 'a> = Box::new(init);
    use_mut_ref(init)
}
