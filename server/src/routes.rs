//! The HTTP surface: `/ws`, `/api/rooms`, `/healthz`, and the built web
//! client.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::account_routes::{self, SESSION_COOKIE};
use crate::accounts::Secret;
use crate::client_files::ClientFiles;
use crate::connection::{self, JoinQuery};
use crate::listener::Peer;
use crate::static_files::{security_headers, static_files};
use crate::upgrade::{upgrade_request, UpgradeRequest};
use crate::AppState;

/// Every route of the server.
pub(crate) fn routes(
    state: AppState,
    client: Arc<ClientFiles>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    // Answers about someone (a session, a token, the audit) and about now
    // (rooms, health): never kept by a browser or a proxy's cache.
    let api = account_routes::routes(state.clone())
        .or(directory(state.clone()))
        .unify()
        .or(health(state.clone()))
        .unify()
        .map(|reply: Response| {
            warp::reply::with_header(reply, "cache-control", "no-store").into_response()
        });
    websocket(state)
        .or(api)
        .unify()
        .or(static_files(Arc::clone(&client)))
        .unify()
        .recover(recover)
        .unify()
        .with(warp::reply::with::headers(security_headers(&client)))
        .map(Reply::into_response)
}

/// `GET /ws?user=<name>[&token=..][&room=<room>][&after=<id>]`: the chat. A plain GET there is told to upgrade.
fn websocket(state: AppState) -> BoxedFilter<(Response,)> {
    let ws_path = warp::path("ws").and(warp::path::end());
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let upgrade = ws_path
        .and(raw_query)
        .and(warp::ext::optional::<Peer>())
        .and(warp::header::optional::<String>("origin"))
        .and(credential())
        .and(upgrade_request())
        .map(
            move |query: String,
                  peer: Option<Peer>,
                  origin: Option<String>,
                  credential: Option<Secret>,
                  request: UpgradeRequest| {
                let peer = peer.map(|Peer(address)| address);
                // A repeated `user`, an `after` that is not a number: 400,
                // not the 426 a query warp could not read would get.
                let mut query = match serde_urlencoded::from_str::<JoinQuery>(&query) {
                    Ok(query) => query,
                    Err(error) => {
                        return bad_request(&format!(
                        "Bad query ({error}): expected user=<name>[&token=<token>][&room=<room>][&after=<id>]."
                    ))
                    }
                };
                query.credential = credential;
                if query.token.is_none() {
                    query.token = request.offered_token();
                }
                if !request.has_valid_key() {
                    return bad_request("Sec-WebSocket-Key must be 16 bytes in base64.");
                }
                if !state.origins.allows(origin.as_deref()) {
                    tracing::warn!(?peer, ?origin, "refused a WebSocket from another site");
                    let text = "This page's origin may not open the chat's WebSocket.\n";
                    return warp::reply::with_status(text, StatusCode::FORBIDDEN).into_response();
                }
                if let Some(peer) = peer {
                    if let Err(wait) = state.budgets.join(peer.ip(), Instant::now()) {
                        tracing::debug!(%peer, "refused a WebSocket: joining too often");
                        return too_many_joins(wait);
                    }
                }
                let state = state.clone();
                let config = socket_config(state.limits.max_frame_bytes);
                request.accept(
                    config,
                    &state.connections.clone(),
                    // A plain closure: an `async` block would keep the
                    // socket it was given for as long as the connection lives.
                    move |socket| {
                        let context = connection::Context {
                            rooms: Arc::clone(&state.rooms),
                            limits: Arc::clone(&state.limits),
                            budgets: Arc::clone(&state.budgets),
                            accounts: Arc::clone(&state.accounts),
                            peer,
                            stopping: state.stopping.clone(),
                        };
                        connection::serve(socket, query, context)
                    },
                )
            },
        );
    let not_upgrade = ws_path.map(|| {
        let reply = warp::reply::with_status(
            "This endpoint speaks WebSocket: connect with ws://…/ws?user=<name>.\n",
            StatusCode::UPGRADE_REQUIRED,
        );
        warp::reply::with_header(reply, "upgrade", "websocket").into_response()
    });
    upgrade.or(not_upgrade).unify().boxed()
}

/// Who a WebSocket says it is: an API token (`Authorization: Bearer`),
/// else the session cookie.
fn credential() -> BoxedFilter<(Option<Secret>,)> {
    warp::header::optional::<String>("authorization")
        .and(warp::cookie::optional::<String>(SESSION_COOKIE))
        .map(|authorization: Option<String>, cookie: Option<String>| {
            let bearer = authorization.as_deref().and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
            bearer.or(cookie.as_deref()).map(Secret::presented)
        })
        .boxed()
}

fn bad_request(text: &str) -> Response {
    warp::reply::with_status(format!("{text}\n"), StatusCode::BAD_REQUEST).into_response()
}

/// `429 Too Many Requests` for an address that opens WebSockets faster
/// than its budget allows, with the wait in whole seconds.
fn too_many_joins(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let text = format!("Too many connections opened from your address; retry in {seconds} s.\n");
    let reply = warp::reply::with_status(text, StatusCode::TOO_MANY_REQUESTS);
    warp::reply::with_header(reply, "retry-after", seconds.to_string()).into_response()
}

/// Per-connection buffers sized for a chat, not for bulk transfer:
/// tungstenite's defaults (128 KiB each way) would cost more memory per idle
/// connection than everything else together. The read buffer is allocated
/// for every connection, idle or not; clients send little (a typing frame,
/// a ping or a short message fits in 256 bytes), and a larger frame is
/// simply read in several calls.
fn socket_config(max_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(256)
        // tungstenite buffers only the greeting (or a refusal); after it
        // the connection writes frames encoded once (see `transport`).
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_frame_size(Some(max_frame_bytes))
        .max_message_size(Some(max_frame_bytes))
}

/// `GET /healthz`: whether this instance serves and can store messages
/// (`503` when its last commit, append or read of the log failed), and its
/// open connections.
fn health(state: AppState) -> BoxedFilter<(Response,)> {
    warp::get()
        .and(warp::path("healthz"))
        .and(warp::path::end())
        .map(move || {
            let storage_ok = state.rooms.storage_ok();
            let body = json!({
                "status": if storage_ok { "ok" } else { "unavailable" },
                "storage": if storage_ok { "ok" } else { "failing" },
                "connections": state.rooms.connections(),
                "rooms": state.rooms.rooms_in_memory(),
            });
            let status = if storage_ok {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            warp::reply::with_status(warp::reply::json(&body), status).into_response()
        })
        .boxed()
}

/// Most rooms `/api/rooms` lists.
const DIRECTORY_MAX: usize = 100;

/// `GET /api/rooms`: the rooms most recently posted in, newest first, with
/// how many are in each, as JSON: `[{"room":"lobby","online":3,
/// "lastMessageAt":1764100000000}]` (at most 100; rooms nobody has posted
/// in yet come last, with `lastMessageAt` null).
fn directory(state: AppState) -> BoxedFilter<(Response,)> {
    warp::get()
        .and(warp::path("api"))
        .and(warp::path("rooms"))
        .and(warp::path::end())
        .then(move || {
            let rooms = Arc::clone(&state.rooms);
            async move {
                match rooms.directory(DIRECTORY_MAX).await {
                    Ok(summaries) => warp::reply::json(&summaries).into_response(),
                    Err(error) => {
                        tracing::warn!(%error, "cannot list the rooms");
                        let body = json!({
                            "code": "storage_unavailable",
                            "message": "The rooms cannot be listed right now.",
                        });
                        warp::reply::with_status(
                            warp::reply::json(&body),
                            StatusCode::SERVICE_UNAVAILABLE,
                        )
                        .into_response()
                    }
                }
            }
        })
        .boxed()
}

/// Turns a rejection nobody handled into a plain-text answer.
async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    if rejection.find::<account_routes::ForeignOrigin>().is_some() {
        return Ok(account_routes::foreign_origin());
    }
    let status = if rejection.is_not_found() {
        StatusCode::NOT_FOUND
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        StatusCode::PAYLOAD_TOO_LARGE
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        StatusCode::METHOD_NOT_ALLOWED
    } else {
        StatusCode::BAD_REQUEST
    };
    let text = status.canonical_reason().unwrap_or("error");
    Ok(warp::reply::with_status(format!("{text}\n"), status).into_response())
}
