//! The chat's WebSocket as a hook: connect, join the rooms of the list,
//! feed server frames to the reducer, send what the user writes, reconnect
//! with backoff and resume each room after the newest message shown. The
//! only place that sends.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::future::{abortable, Fuse, FutureExt};
use futures::{pin_mut, select_biased, SinkExt, StreamExt};
use gloo::events::EventListener;
use gloo::net::websocket::futures::WebSocket;
use gloo::net::websocket::{Message, State, WebSocketError};
use gloo::timers::callback::Interval;
use gloo::timers::future::TimeoutFuture;
use protocol::{ClientFrame, ModAction, ServerFrame};
use yew::prelude::*;

use crate::backoff::reconnect_delay_ms;
use crate::effects::{use_effect_on, use_effect_undone, use_mut_ref_with};
use crate::state::cache::{self, FrameCache};
use crate::state::outbox::{self, Outgoing, OutgoingStatus};
use crate::state::rooms::{self, Joining};
use crate::state::search::Asked;
use crate::state::{Chat, ChatAction};

/// Close code the server uses when it refuses the requested name.
const CLOSE_POLICY_VIOLATION: u16 = 1008;
/// Messages asked for per "load older".
const OLDER_PAGE: u32 = 50;
/// Silence after which the client asks the server whether it is there...
const QUIET_MS: f64 = 25_000.0;
/// ...and after which it gives the connection up for dead and reconnects.
const DEAD_MS: f64 = 40_000.0;
/// How often the client checks for silence.
const LIVENESS_CHECK_MS: u32 = 5_000;

/// The chat and what the user can do in it.
#[derive(Clone, PartialEq)]
pub struct ChatHandle {
    pub state: UseReducerHandle<Chat>,
    /// Posts a (validated) message to a room: (room, text, the message it
    /// answers).
    pub post: Callback<(String, String, Option<u64>)>,
    /// Changes a message of a room: an edit, a deletion or a reaction.
    /// Only while the room is joined (the controls are off otherwise).
    pub change: Callback<(String, u64, MessageChange)>,
    /// Sends a failed message again, by client id.
    pub retry: Callback<String>,
    /// Gives up on a failed message, by client id.
    pub discard: Callback<String>,
    /// Asks for the page of messages before the oldest shown in a room.
    pub load_older: Callback<String>,
    /// Tells a room the user is typing (sent at most every few seconds).
    pub typing: Callback<String>,
    /// Leaves a room: off the list, and the others see the user go.
    pub leave: Callback<String>,
    /// Reconnects at once instead of waiting out the backoff.
    pub reconnect_now: Callback<()>,
    /// Searches (`Some`: a new question), or asks for the next page of
    /// the search on screen (`None`). Only online.
    pub search: Callback<Option<Asked>>,
}

/// A change the user makes to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageChange {
    /// New (validated) text for one of the user's messages.
    Edit(String),
    Delete,
    React {
        emoji: String,
        on: bool,
    },
    /// A moderator's action in the room (on the message, for `delete`).
    Moderate {
        action: ModAction,
        target: Option<String>,
        duration_s: Option<u64>,
        reason: Option<String>,
        all_rooms: bool,
    },
}

/// What wakes the socket task from a wait.
enum Wake {
    /// Try now: the browser is back online, the page is shown again, or the
    /// user asked.
    Now,
    /// The page is being left (perhaps into the back/forward cache): close
    /// the socket rather than hold a connection nobody sees.
    Hidden,
    /// The page is no longer seen (another tab, the phone locked): a good
    /// moment to keep the rooms' history, which may be the last.
    Unseen,
}

/// The rooms' recent frames (see [`cache`]), and whose they are.
struct Kept {
    user: String,
    frames: Rc<RefCell<FrameCache>>,
}

impl Kept {
    fn save(&self) {
        cache::save(&self.user, &self.frames.borrow());
    }
}

/// Sends [`Wake`]s to the socket task from the page's events; listening
/// while it lives.
struct Wakers {
    _listeners: Vec<EventListener>,
}

impl Wakers {
    fn listen(wake: &UnboundedSender<Wake>) -> Self {
        let on =
            |target: &web_sys::EventTarget, event: &'static str, what: fn() -> Option<Wake>| {
                let wake = wake.clone();
                EventListener::new(target, event, move |_| {
                    if let Some(what) = what() {
                        let _ = wake.unbounded_send(what);
                    }
                })
            };
        let mut listeners = Vec::new();
        if let Some(window) = web_sys::window() {
            listeners.push(on(&window, "online", || Some(Wake::Now)));
            listeners.push(on(&window, "pageshow", || Some(Wake::Now)));
            listeners.push(on(&window, "pagehide", || Some(Wake::Hidden)));
            if let Some(document) = window.document() {
                listeners.push(on(&document, "visibilitychange", || {
                    let shown = web_sys::window()
                        .and_then(|window| window.document())
                        .is_some_and(|document| !document.hidden());
                    Some(if shown { Wake::Now } else { Wake::Unseen })
                }));
            }
        }
        Self {
            _listeners: listeners,
        }
    }
}

/// Frames for the socket task to send while connected.
type Outbound = Rc<RefCell<Option<UnboundedSender<String>>>>;

fn send(outbound: &Outbound, frame: &ClientFrame) {
    if let Some(sender) = outbound.borrow().as_ref() {
        // Fails only once the socket task has ended with the component.
        let _ = sender.unbounded_send(frame.to_json());
    }
}

fn send_outgoing(outbound: &Outbound, room: &str, outgoing: &Outgoing) {
    let frame = ClientFrame::Send {
        client_id: outgoing.client_id.clone(),
        msg: outgoing.msg.clone(),
        room: Some(room.to_owned()),
        reply_to: outgoing.reply_to,
    };
    send(outbound, &frame);
}

/// Where the next connection starts: the room its URL names (the room on
/// screen, else the first of the list; none for the server's default), and
/// the newest message shown there.
type Start = Rc<RefCell<(Option<String>, Option<u64>)>>;

/// Whether `room` is joined on the current connection.
fn joined(state: &Chat, room: &str) -> bool {
    state.online()
        && state
            .room(room)
            .is_some_and(|room| room.joining == Joining::Joined)
}

/// The chat for `user`: one socket for every room, the only place that
/// sends. It lives as long as the calling component (or until `user`
/// changes); dropping it closes the connection.
#[hook]
pub fn use_chat(user: &str) -> ChatHandle {
    // The rooms' recent frames, kept for the next visit.
    let kept: Rc<RefCell<FrameCache>> = use_mut_ref_with({
        let user = user.to_owned();
        move || cache::load(&user)
    });
    let state = use_reducer({
        let user = user.to_owned();
        let kept = kept.clone();
        move || {
            let mut chat = Chat::new(
                rooms::load(&user),
                rooms::load_home(),
                outbox::load(&user),
                rooms::load_notify(&user),
            );
            chat.restore(&kept.borrow());
            chat
        }
    });
    let outbound: Outbound = use_mut_ref_with(|| None);
    let wake: Rc<RefCell<Option<UnboundedSender<Wake>>>> = use_mut_ref_with(|| None);
    let start: Start = use_mut_ref_with(Default::default);
    {
        let room = state
            .current_room()
            .or_else(|| state.rooms.first())
            .map(|room| (room.name.clone(), room.messages.resume_after()));
        *start.borrow_mut() = match room {
            Some((name, newest)) => (Some(name), newest),
            None => (None, None),
        };
    }
    // Messages sent on this connection: each goes out once per connection.
    let sent: Rc<RefCell<Vec<String>>> = use_mut_ref_with(Vec::new);

    use_effect_undone(user.to_owned(), {
        let dispatcher = state.dispatcher();
        let outbound = outbound.clone();
        let start = start.clone();
        let wake = wake.clone();
        let kept = kept.clone();
        move |user| {
            let (sender, receiver) = mpsc::unbounded();
            *outbound.borrow_mut() = Some(sender);
            let (wake_sender, wakes) = mpsc::unbounded();
            let wakers = Wakers::listen(&wake_sender);
            *wake.borrow_mut() = Some(wake_sender);
            let url = SocketUrl {
                user: user.clone(),
                token: crate::session::browser_token(),
            };
            let kept = Kept {
                user: user.clone(),
                frames: kept.clone(),
            };
            let (task, abort) = abortable(run(url, start, dispatcher, receiver, wakes, kept));
            wasm_bindgen_futures::spawn_local(task.map(|_| ()));
            move || {
                abort.abort();
                drop(wakers);
            }
        }
    });
    let names: Vec<String> = state.rooms.iter().map(|room| room.name.clone()).collect();
    use_effect_on((user.to_owned(), names), |(user, names)| {
        rooms::save(user, names)
    });
    use_effect_on(state.home.clone(), |home| {
        if let Some(home) = home {
            rooms::save_home(home);
        }
    });
    use_effect_on((user.to_owned(), state.outbox.clone()), |(user, outbox)| {
        outbox::save(user, outbox)
    });
    // Rooms to join on this connection go out, with where each resumes;
    // then what is unconfirmed in the rooms joined, oldest first.
    let joining: Vec<(String, Joining)> = state
        .rooms
        .iter()
        .map(|room| (room.name.clone(), room.joining))
        .collect();
    use_effect_on((state.online(), joining), {
        let state = state.clone();
        let outbound = outbound.clone();
        let sent = sent.clone();
        move |(online, _)| {
            if !*online {
                sent.borrow_mut().clear();
                return;
            }
            for room in state
                .rooms
                .iter()
                .filter(|room| room.joining == Joining::Wanted)
            {
                let frame = ClientFrame::Join {
                    room: room.name.clone(),
                    after: room.messages.resume_after(),
                };
                send(&outbound, &frame);
                state.dispatch(ChatAction::JoinSent {
                    room: room.name.clone(),
                });
            }
            for outgoing in state.outbox.iter().filter(|o| o.status.resend_on_connect()) {
                let Some(room) = state.room_of(outgoing) else {
                    continue;
                };
                if joined(&state, room) && !sent.borrow().contains(&outgoing.client_id) {
                    send_outgoing(&outbound, room, outgoing);
                    sent.borrow_mut().push(outgoing.client_id.clone());
                }
            }
        }
    });
    use_effect_undone((), {
        let dispatcher = state.dispatcher();
        move |()| {
            let ticker = Interval::new(1_000, move || {
                dispatcher.dispatch(ChatAction::Tick {
                    now: js_sys::Date::now(),
                })
            });
            move || drop(ticker)
        }
    });

    let last_typing = use_mut_ref_with(|| 0.0_f64);
    commands(
        state,
        Links {
            outbound,
            sent,
            last_typing,
            kept,
            wake,
        },
    )
}

/// What the commands share: the connection's way out, what went out on
/// it, when typing was last told, the frames kept for the next visit,
/// and the reconnect timer's wake-up.
struct Links {
    outbound: Outbound,
    sent: Rc<RefCell<Vec<String>>>,
    last_typing: Rc<RefCell<f64>>,
    kept: Rc<RefCell<FrameCache>>,
    wake: Rc<RefCell<Option<UnboundedSender<Wake>>>>,
}

/// The page's commands to the room (post, change, retry, discard, load
/// older, typing, leave, reconnect now), over `use_chat`'s state and
/// connection. A plain function: only the hooks are `use_chat`'s.
fn commands(state: UseReducerHandle<Chat>, links: Links) -> ChatHandle {
    let Links {
        outbound,
        sent,
        last_typing,
        kept,
        wake,
    } = links;
    let post = {
        let state = state.clone();
        let outbound = outbound.clone();
        let last_typing = last_typing.clone();
        let sent = sent.clone();
        Callback::from(
            move |(room, msg, reply_to): (String, String, Option<u64>)| {
                let outgoing = Outgoing {
                    room,
                    client_id: new_client_id(),
                    msg,
                    reply_to,
                    since: js_sys::Date::now(),
                    status: OutgoingStatus::Pending,
                };
                if joined(&state, &outgoing.room) {
                    send_outgoing(&outbound, &outgoing.room, &outgoing);
                    sent.borrow_mut().push(outgoing.client_id.clone());
                }
                // A post ends a typing spell: typing again is news at once.
                *last_typing.borrow_mut() = 0.0;
                state.dispatch(ChatAction::Post(outgoing));
            },
        )
    };
    let change = {
        let state = state.clone();
        let outbound = outbound.clone();
        Callback::from(move |(room, id, change): (String, u64, MessageChange)| {
            if !joined(&state, &room) {
                return;
            }
            let frame = change_frame(room, id, change);
            send(&outbound, &frame);
        })
    };
    let retry = {
        let state = state.clone();
        let outbound = outbound.clone();
        Callback::from(move |client_id: String| {
            let outgoing = state.outbox.iter().find(|o| o.client_id == client_id);
            if let Some(outgoing) = outgoing {
                if let Some(room) = state.room_of(outgoing).filter(|room| joined(&state, room)) {
                    send_outgoing(&outbound, room, outgoing);
                }
            }
            state.dispatch(ChatAction::Retry {
                client_id,
                now: js_sys::Date::now(),
            });
        })
    };
    let discard = {
        let state = state.clone();
        Callback::from(move |client_id: String| state.dispatch(ChatAction::Discard { client_id }))
    };
    let load_older = {
        let state = state.clone();
        let outbound = outbound.clone();
        Callback::from(move |room: String| {
            let Some(messages) = state.room(&room).map(|room| &room.messages) else {
                return;
            };
            let idle = joined(&state, &room) && messages.has_older && !messages.loading_older;
            if let (true, Some(before)) = (idle, messages.oldest_id()) {
                let frame = ClientFrame::LoadOlder {
                    before,
                    limit: OLDER_PAGE,
                    room: Some(room.clone()),
                };
                state.dispatch(ChatAction::LoadingOlder { room });
                send(&outbound, &frame);
            }
        })
    };
    let typing = {
        let state = state.clone();
        let outbound = outbound.clone();
        Callback::from(move |room: String| {
            let now = js_sys::Date::now();
            let quiet = protocol::TYPING_INTERVAL_MS as f64;
            if joined(&state, &room) && now - *last_typing.borrow() >= quiet {
                *last_typing.borrow_mut() = now;
                send(&outbound, &ClientFrame::Typing { room: Some(room) });
            }
        })
    };
    let search = {
        let state = state.clone();
        let outbound = outbound.clone();
        Callback::from(move |asked: Option<Asked>| {
            if !state.online() {
                return;
            }
            let (q, room, before) = match asked {
                Some(asked) => {
                    let frame = (asked.q.clone(), asked.room.clone(), None);
                    state.dispatch(ChatAction::Search(asked));
                    frame
                }
                None => match (&state.search.asked, state.search.next) {
                    (Some(asked), Some(next)) if state.search.waiting == 0 => {
                        state.dispatch(ChatAction::SearchMore);
                        (asked.q.clone(), asked.room.clone(), Some(next))
                    }
                    _ => return,
                },
            };
            send(&outbound, &ClientFrame::Search { q, room, before });
        })
    };
    let leave = {
        let state = state.clone();
        Callback::from(move |room: String| {
            if joined(&state, &room) {
                send(&outbound, &ClientFrame::Leave { room: room.clone() });
            }
            kept.borrow_mut().forget(&room);
            state.dispatch(ChatAction::Leave { room });
        })
    };
    let reconnect_now = Callback::from(move |()| {
        if let Some(wake) = wake.borrow().as_ref() {
            let _ = wake.unbounded_send(Wake::Now);
        }
    });
    ChatHandle {
        state,
        post,
        change,
        retry,
        discard,
        load_older,
        typing,
        leave,
        reconnect_now,
        search,
    }
}

/// The frame that asks for `change` to message `id` of `room`.
fn change_frame(room: String, id: u64, change: MessageChange) -> ClientFrame {
    let room = Some(room);
    match change {
        MessageChange::Edit(msg) => ClientFrame::Edit { room, id, msg },
        MessageChange::Delete => ClientFrame::Delete { room, id },
        MessageChange::Moderate {
            action,
            target,
            duration_s,
            reason,
            all_rooms,
        } => ClientFrame::Moderate {
            room,
            action,
            target,
            id: action.needs_id().then_some(id),
            duration_s,
            reason,
            all_rooms,
        },
        MessageChange::React { emoji, on } => ClientFrame::React {
            room,
            id,
            emoji,
            on,
        },
    }
}

/// Who connects: the name and this browser's token.
struct SocketUrl {
    user: String,
    token: String,
}

impl SocketUrl {
    /// `ws(s)://<this host>/ws?user=<name>[&room=<room>][&after=<id>]`:
    /// the same build works behind `trunk serve`'s proxy and when served by
    /// the server, over http or https. The token is not in it (see
    /// [`SocketUrl::protocols`]).
    fn starting(&self, room: Option<&str>, after: Option<u64>) -> String {
        let location = gloo::utils::window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_default();
        let user = String::from(js_sys::encode_uri_component(&self.user));
        let mut url = format!("{scheme}://{host}/ws?user={user}");
        if let Some(room) = room {
            url.push_str("&room=");
            url.push_str(&String::from(js_sys::encode_uri_component(room)));
            if let Some(after) = after {
                url.push_str(&format!("&after={after}"));
            }
        }
        url
    }

    /// The subprotocol offered: the browser's token, which proxies would
    /// log in a URL but not in a header. (One, not a list: gloo's list
    /// goes through serde_json, 1.5 KB of the client.)
    fn protocol(&self) -> String {
        format!("{}{}", protocol::WS_TOKEN_PREFIX, self.token)
    }
}

/// A fresh id for a message this client sends, echoed back by the server
/// (to everyone: it has nothing to do with the browser token).
fn new_client_id() -> String {
    crate::random::random_hex(8)
}

/// How one connection ended.
enum Ended {
    /// Lost (or never made): try again. `welcomed` tells whether it had
    /// reached the room, which resets the backoff.
    Dropped { welcomed: bool },
    /// The server refused the name: reconnecting would not help.
    Refused(String),
    /// The page no longer wants the room.
    Abandoned,
    /// The page was left; the socket is closed until it is shown again.
    Hidden,
}

async fn run(
    url: SocketUrl,
    start: Start,
    room: UseReducerDispatcher<Chat>,
    mut outbound: UnboundedReceiver<String>,
    mut wakes: UnboundedReceiver<Wake>,
    kept: Kept,
) {
    let mut attempt = 0;
    loop {
        let (first, after) = start.borrow().clone();
        let offered = url.protocol();
        let url = url.starting(first.as_deref(), after);
        room.dispatch(ChatAction::Connecting { room: first });
        let delay =
            match connect_once(&url, &offered, &room, &mut outbound, &mut wakes, &kept).await {
                Ended::Refused(reason) => return room.dispatch(ChatAction::Refused(reason)),
                Ended::Abandoned => return,
                // Nobody sees the page: wait until it is shown again.
                Ended::Hidden => None,
                Ended::Dropped { welcomed } => {
                    if welcomed {
                        attempt = 0;
                    }
                    let delay = reconnect_delay_ms(attempt, js_sys::Math::random());
                    attempt = attempt.saturating_add(1);
                    Some(delay)
                }
            };
        let now = js_sys::Date::now();
        let retry_at = delay.map(|delay| now + f64::from(delay));
        room.dispatch(ChatAction::Closed { retry_at, now });
        if !wait_to_retry(delay, &mut wakes, &kept).await {
            return;
        }
    }
}

/// Waits `delay` (forever when `None`), or until a [`Wake::Now`]. False
/// when the page no longer wants the room.
async fn wait_to_retry(
    delay: Option<u32>,
    wakes: &mut UnboundedReceiver<Wake>,
    kept: &Kept,
) -> bool {
    // A terminated timer is never ready: without a delay, only a wake ends
    // the wait.
    let timer = match delay {
        Some(delay) => TimeoutFuture::new(delay).fuse(),
        None => Fuse::terminated(),
    };
    pin_mut!(timer);
    loop {
        select_biased! {
            () = timer => return true,
            wake = wakes.next() => match wake {
                Some(Wake::Now) => return true,
                // The history is written when the page goes (it may not
                // come back), not on every frame.
                Some(Wake::Hidden | Wake::Unseen) => kept.save(),
                None => return false,
            },
        }
    }
}

/// One connection, from `open` to `close`, handling all four socket events.
async fn connect_once(
    url: &str,
    offered: &str,
    room: &UseReducerDispatcher<Chat>,
    outbound: &mut UnboundedReceiver<String>,
    wakes: &mut UnboundedReceiver<Wake>,
    kept: &Kept,
) -> Ended {
    let mut socket = match WebSocket::open_with_protocol(url, offered) {
        Ok(socket) => socket,
        // Browsers tell scripts nothing useful about a failed WebSocket;
        // the reasons' texts would cost the client more than they say.
        Err(_) => {
            gloo::console::error!(format!("cannot open {url}"));
            return Ended::Dropped { welcomed: false };
        }
    };
    // `open`: gloo wakes the sink once the socket leaves CONNECTING. The
    // room counts us online at `welcome`, when the server accepted the name.
    if socket.flush().await.is_err() || !matches!(socket.state(), State::Open) {
        gloo::console::warn!("websocket did not open");
    }
    let (mut sink, mut stream) = socket.split();
    let mut welcomed = false;
    // Browsers hide WebSocket pings: silence is noticed here, by the clock.
    let mut last_heard = js_sys::Date::now();
    loop {
        let incoming = stream.next().fuse();
        let outgoing = outbound.next().fuse();
        let woken = wakes.next().fuse();
        let check = TimeoutFuture::new(LIVENESS_CHECK_MS).fuse();
        pin_mut!(incoming, outgoing, woken, check);
        select_biased! {
            event = incoming => match event {
                // `message`
                Some(Ok(Message::Text(text))) => match crate::json::server_frame(&text) {
                    Some(frame) => {
                        last_heard = js_sys::Date::now();
                        welcomed |= matches!(frame, ServerFrame::Welcome { .. });
                        kept.frames.borrow_mut().keep(&text, &frame);
                        room.dispatch(ChatAction::Frame { frame, now: last_heard });
                    }
                    // The frame itself, not the decoder's message: error
                    // texts cost the client bytes (1.7 KB for serde_json's).
                    None => {
                        gloo::console::warn!(format!("skipped an unreadable frame: {text}"));
                    }
                },
                Some(Ok(Message::Bytes(_))) => {
                    gloo::console::warn!("skipped a binary frame");
                }
                // `close`
                Some(Err(WebSocketError::ConnectionClose(close))) => {
                    // Refused at the door, or put out by a moderator: the
                    // login page says why, and nothing reconnects by itself.
                    if (close.code == CLOSE_POLICY_VIOLATION && !welcomed)
                        || close.code == protocol::CLOSE_PUT_OUT
                    {
                        return Ended::Refused(close.reason);
                    }
                    return Ended::Dropped { welcomed };
                }
                // `error`: always followed by `close`, which decides what next.
                Some(Err(_)) => {
                    gloo::console::warn!("websocket error");
                }
                None => return Ended::Dropped { welcomed },
            },
            text = outgoing => match text {
                // A failed send leaves the message pending: it goes out again
                // on the next connection.
                Some(text) => {
                    if sink.send(Message::Text(text)).await.is_err() {
                        gloo::console::warn!("send failed");
                    }
                }
                None => return Ended::Abandoned,
            },
            wake = woken => match wake {
                // Dropping the socket closes it (1000): the server lets the
                // name go as for any client that leaves.
                Some(Wake::Hidden) => {
                    kept.save();
                    return Ended::Hidden;
                }
                Some(Wake::Unseen) => kept.save(),
                Some(Wake::Now) => {}
                None => return Ended::Abandoned,
            },
            () = check => {
                let silence = js_sys::Date::now() - last_heard;
                if silence >= DEAD_MS {
                    gloo::console::warn!("no sign of the server for a while: reconnecting");
                    return Ended::Dropped { welcomed };
                }
                if silence >= QUIET_MS {
                    let _ = sink.send(Message::Text(ClientFrame::Ping.to_json())).await;
                }
            },
        }
    }
}
