//! The room's WebSocket: connect, read frames into the room reducer, send
//! what the user posts, and reconnect with backoff when the connection drops.

use futures::channel::mpsc::{self, UnboundedReceiver, UnboundedSender};
use futures::future::{abortable, FutureExt};
use futures::{pin_mut, select_biased, SinkExt, StreamExt};
use gloo::net::websocket::futures::WebSocket;
use gloo::net::websocket::{Message, State, WebSocketError};
use gloo::timers::future::TimeoutFuture;
use protocol::{ClientFrame, ServerFrame};
use yew::prelude::*;

use crate::backoff::reconnect_delay_ms;
use crate::room_state::{RoomAction, RoomState};

/// Close code the server uses when it refuses the requested name.
const CLOSE_POLICY_VIOLATION: u16 = 1008;

/// The room for `user`: its state, and a callback that posts a message.
///
/// The socket lives as long as the calling component (or until `user`
/// changes); dropping it closes the connection.
#[hook]
pub fn use_room(user: &str) -> (UseReducerHandle<RoomState>, Callback<String>) {
    let room = use_reducer(RoomState::default);
    let outbox = use_mut_ref(|| None::<UnboundedSender<String>>);
    {
        let dispatcher = room.dispatcher();
        let outbox = outbox.clone();
        use_effect_with(user.to_owned(), move |user| {
            let (sender, receiver) = mpsc::unbounded();
            *outbox.borrow_mut() = Some(sender);
            let (task, abort) = abortable(run(socket_url(user), dispatcher, receiver));
            wasm_bindgen_futures::spawn_local(task.map(|_| ()));
            move || abort.abort()
        });
    }
    let post = Callback::from(move |msg: String| {
        let frame = ClientFrame::Send {
            client_id: new_client_id(),
            msg,
        };
        if let Some(outbox) = outbox.borrow().as_ref() {
            // Fails only once the socket task has ended with the component.
            let _ = outbox.unbounded_send(frame.to_json());
        }
    });
    (room, post)
}

/// `ws(s)://<this host>/ws?user=<name>`: the same build works behind
/// `trunk serve`'s proxy and when served by the server, over http or https.
fn socket_url(user: &str) -> String {
    let location = gloo::utils::window().location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_default();
    let user = String::from(js_sys::encode_uri_component(user));
    format!("{scheme}://{host}/ws?user={user}")
}

/// A fresh id for a message this client sends, echoed back by the server.
fn new_client_id() -> String {
    let random = (js_sys::Math::random() * 2f64.powi(52)) as u64;
    format!("{:x}-{random:x}", js_sys::Date::now() as u64)
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
}

async fn run(
    url: String,
    room: UseReducerDispatcher<RoomState>,
    mut outbox: UnboundedReceiver<String>,
) {
    let mut attempt = 0;
    loop {
        room.dispatch(RoomAction::Connecting);
        match connect_once(&url, &room, &mut outbox).await {
            Ended::Refused(reason) => return room.dispatch(RoomAction::Refused(reason)),
            Ended::Abandoned => return,
            Ended::Dropped { welcomed } => {
                if welcomed {
                    attempt = 0;
                }
            }
        }
        let delay = reconnect_delay_ms(attempt, js_sys::Math::random());
        attempt = attempt.saturating_add(1);
        room.dispatch(RoomAction::Closed { retry_in_ms: delay });
        TimeoutFuture::new(delay).await;
    }
}

/// One connection, from `open` to `close`, handling all four socket events.
async fn connect_once(
    url: &str,
    room: &UseReducerDispatcher<RoomState>,
    outbox: &mut UnboundedReceiver<String>,
) -> Ended {
    let mut socket = match WebSocket::open(url) {
        Ok(socket) => socket,
        Err(error) => {
            gloo::console::error!(format!("cannot open {url}: {error}"));
            return Ended::Dropped { welcomed: false };
        }
    };
    // `open`: gloo wakes the sink once the socket leaves CONNECTING.
    if socket.flush().await.is_ok() && matches!(socket.state(), State::Open) {
        room.dispatch(RoomAction::Opened);
    }
    let (mut sink, mut stream) = socket.split();
    let mut welcomed = false;
    loop {
        let incoming = stream.next().fuse();
        let outgoing = outbox.next().fuse();
        pin_mut!(incoming, outgoing);
        select_biased! {
            event = incoming => match event {
                // `message`
                Some(Ok(Message::Text(text))) => match ServerFrame::parse(&text) {
                    Ok(frame) => {
                        welcomed |= matches!(frame, ServerFrame::Welcome { .. });
                        room.dispatch(RoomAction::Frame(frame));
                    }
                    Err(error) => gloo::console::warn!(format!("skipped an unreadable frame: {error}")),
                },
                Some(Ok(Message::Bytes(_))) => gloo::console::warn!("skipped a binary frame"),
                // `error`: always followed by `close`, which decides what next.
                Some(Err(WebSocketError::ConnectionError)) => {
                    gloo::console::warn!("websocket error");
                }
                // `close`
                Some(Err(WebSocketError::ConnectionClose(close))) => {
                    if close.code == CLOSE_POLICY_VIOLATION && !welcomed {
                        return Ended::Refused(close.reason);
                    }
                    return Ended::Dropped { welcomed };
                }
                Some(Err(error)) => gloo::console::warn!(format!("websocket: {error}")),
                None => return Ended::Dropped { welcomed },
            },
            text = outgoing => match text {
                Some(text) => {
                    if let Err(error) = sink.send(Message::Text(text)).await {
                        gloo::console::warn!(format!("send failed: {error}"));
                    }
                }
                None => return Ended::Abandoned,
            },
        }
    }
}
