//! The WebSocket handshake, done on hyper's upgrade directly.
//!
//! warp's own `ws` filter only sends text built from a `String`, which would
//! copy every broadcast message once per recipient. Taking the upgraded
//! connection ourselves gives a plain `tokio_tungstenite::WebSocketStream`,
//! whose text frames are shared, reference-counted bytes.

use std::future::Future;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tokio_util::task::TaskTracker;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

/// An upgraded HTTP connection: the bytes under the WebSocket.
pub(crate) type Io = TokioIo<Upgraded>;

/// A server-side WebSocket over an upgraded HTTP connection.
pub(crate) type Socket = WebSocketStream<Io>;

/// A valid WebSocket upgrade request, not yet answered.
pub(crate) struct UpgradeRequest {
    key: String,
    /// `Sec-WebSocket-Protocol`: what the client offers.
    protocols: Option<String>,
    on_upgrade: OnUpgrade,
}

/// Matches a `GET` that asks to switch to WebSocket (RFC 6455, section 4.2.1).
pub(crate) fn upgrade_request(
) -> impl Filter<Extract = (UpgradeRequest,), Error = Rejection> + Clone {
    warp::get()
        .and(warp::header::<String>("connection"))
        .and_then(|connection: String| async move {
            let asks_upgrade = connection
                .split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
            if asks_upgrade {
                Ok(())
            } else {
                Err(warp::reject())
            }
        })
        .untuple_one()
        .and(warp::header::exact_ignore_case("upgrade", "websocket"))
        .and(warp::header::exact("sec-websocket-version", "13"))
        .and(warp::header::<String>("sec-websocket-key"))
        .and(warp::header::optional::<String>("sec-websocket-protocol"))
        .and(warp::ext::get::<OnUpgrade>())
        .map(|key, protocols, on_upgrade| UpgradeRequest {
            key,
            protocols,
            on_upgrade,
        })
}

impl UpgradeRequest {
    /// Whether the key is what RFC 6455 asks for: 16 bytes in base64.
    pub(crate) fn has_valid_key(&self) -> bool {
        STANDARD
            .decode(&self.key)
            .is_ok_and(|bytes| bytes.len() == 16)
    }

    /// The subprotocols offered, trimmed.
    fn offered(&self) -> impl Iterator<Item = &str> {
        self.protocols
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
    }

    /// The browser's token, when it came as an offered subprotocol (see
    /// [`protocol::WS_TOKEN_PREFIX`]): kept out of the URL, which proxies log.
    pub(crate) fn offered_token(&self) -> Option<String> {
        self.offered()
            .find_map(|offered| offered.strip_prefix(protocol::WS_TOKEN_PREFIX))
            .map(str::to_owned)
    }

    /// The subprotocol to answer with: the chat's, if offered; else the
    /// token, if that was the one offered (the web client offers it
    /// alone); else none.
    fn chosen_protocol(&self) -> Option<HeaderValue> {
        let mut token = None;
        for offered in self.offered() {
            if offered == protocol::WS_PROTOCOL {
                return Some(HeaderValue::from_static(protocol::WS_PROTOCOL));
            }
            if offered.starts_with(protocol::WS_TOKEN_PREFIX) && token.is_none() {
                token = HeaderValue::from_str(offered).ok();
            }
        }
        token
    }

    /// Answers `101 Switching Protocols` and, once hyper hands over the
    /// connection, runs `handler` on the socket as a task of `tasks`.
    pub(crate) fn accept<H, F>(
        self,
        config: WebSocketConfig,
        tasks: &TaskTracker,
        handler: H,
    ) -> Response
    where
        H: FnOnce(Socket) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        // Base64 is always a valid header value; refuse rather than panic.
        let Ok(accept_key) = HeaderValue::from_str(&derive_accept_key(self.key.as_bytes())) else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let chosen = self.chosen_protocol();
        let on_upgrade = self.on_upgrade;
        let session_tasks = tasks.clone();
        // The handler runs as a task of its own: a task's memory is fixed at
        // spawn by its largest state, and waiting for the upgrade (with the
        // handler's captures) is larger than an idle session.
        tasks.spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    let socket =
                        WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                    session_tasks.spawn(handler(socket));
                }
                Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
            }
        });
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept_key);
        // A browser that offered subprotocols fails the connection unless
        // one is chosen.
        if let Some(chosen) = chosen {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, chosen);
        }
        response
    }
}
