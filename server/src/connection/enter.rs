//! Coming in: the name and room the URL asks for, checked, and the
//! greeting (`welcome`, `history`, `online`).

use std::net::SocketAddr;
use std::sync::Arc;

use futures::SinkExt;
use protocol::{canonical_room, canonical_username, name_key};
use protocol::{validate_client_id, validate_username};
use protocol::{ErrorCode, ServerFrame};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use super::ended::close_frame;
use super::{history_frames, moderates, online_frame, Context, CLOSE_TIMEOUT};
use crate::accounts::{AccountError, Accounts, Comer, Identity, Secret};
use crate::rooms::{browser_key, hex, Entering, Holder, JoinError, Memberships, NameGuard};
use crate::transport::Transport;
use crate::upgrade::Socket;

/// Bytes of the greeting written before the rest is fed: with a history
/// page of at most `HISTORY_PAGE_BYTES_MAX`, what waits stays below
/// tungstenite's write buffer (1 MiB), whose overflow drops the socket.
const GREETING_FLUSH_BYTES: usize = 128 * 1024;

/// The query string of `GET /ws`.
#[derive(Debug, Deserialize)]
pub(crate) struct JoinQuery {
    /// The name asked for. Missing counts as empty, so the client gets the
    /// same clear `empty_username` refusal as for `?user=`.
    #[serde(default)]
    pub user: String,
    /// A random token the browser keeps: connections presenting the same
    /// token may share a name (a second tab, a reconnect).
    pub token: Option<String>,
    /// The room to start in; the default room without it.
    pub room: Option<String>,
    /// The newest message id the client already has in that room: resume
    /// after it.
    pub after: Option<u64>,
    /// The session cookie, or an API token (`Authorization: Bearer`): who
    /// the connection is, instead of (or as well as) `user`.
    #[serde(skip)]
    pub credential: Option<Secret>,
}

/// A client that is in its first room, greeted.
pub(super) struct Entered {
    pub(super) transport: Transport,
    pub(super) after: Option<u64>,
    pub(super) name: NameGuard,
    /// The room of the URL, canonical: what frames without `room` mean.
    pub(super) url_room: Arc<str>,
    pub(super) first: Memberships,
    pub(super) context: Context,
}

/// Why a client is turned away at the door: the `error` frame to send
/// first, if the client is owed one, and the close.
struct Refusal {
    code: Option<ErrorCode>,
    reason: String,
    close: CloseCode,
}

impl Refusal {
    fn policy(code: ErrorCode, reason: String) -> Self {
        Self {
            code: Some(code),
            reason,
            close: CloseCode::Policy,
        }
    }

    /// Not the client's fault: it reconnects and tries again.
    fn unavailable(error: &dyn std::fmt::Display, peer: Option<SocketAddr>) -> Self {
        tracing::warn!(?peer, %error, "cannot let a client in");
        Self {
            code: Some(ErrorCode::StorageUnavailable),
            reason: "The room is unavailable right now; retrying.".into(),
            close: CloseCode::Again,
        }
    }

    /// Sends the refusal's `error` frame, if the client is owed one, and
    /// its close; briefly.
    async fn send(&self, socket: &mut Socket) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            if let Some(code) = self.code {
                let frame = ServerFrame::error(code, self.reason.clone());
                socket.send(Message::text(frame.to_json())).await?;
            }
            let goodbye = close_frame(self.close, &self.reason);
            socket.send(Message::Close(Some(goodbye))).await
        })
        .await;
    }

    fn from_join(error: JoinError, user: &str, peer: Option<SocketAddr>) -> Self {
        match error {
            JoinError::Taken => Self::policy(
                ErrorCode::UsernameTaken,
                format!("The name {user:?} is taken: pick another one."),
            ),
            JoinError::Unavailable(error) => Self::unavailable(&error, peer),
            JoinError::RoomLimitReached => Self {
                code: Some(ErrorCode::RoomLimitReached),
                reason: "The server holds as many rooms as it may; try an existing room.".into(),
                close: CloseCode::Again,
            },
            // As for a client that was in: the close alone.
            JoinError::ShuttingDown => Self {
                code: None,
                reason: "server shutting down".into(),
                close: CloseCode::Away,
            },
        }
    }
}

/// Checks the name and room, takes the name, enters the room and greets
/// the client. A refusal is sent with its close frame, and gives `None`,
/// as does a client that does not take the greeting in time.
pub(super) async fn enter(
    mut socket: Socket,
    query: JoinQuery,
    context: Context,
) -> Option<Entered> {
    let peer = context.peer;
    let admitted = admit(&query, &context).await;
    let (name, url_room, first, greeting) = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => {
            let requested = query.user.escape_debug();
            tracing::info!(?peer, user = %requested, reason = %refusal.reason, "refused to join");
            refusal.send(&mut socket).await;
            return None;
        }
    };
    let greeted = tokio::time::timeout(context.limits.send_timeout, async {
        // Flushed as it goes, so that what waits in tungstenite's write
        // buffer stays far below its cap (each frame is paged well below).
        let mut waiting = 0;
        for frame in greeting {
            waiting += frame.len();
            socket.feed(Message::text(frame)).await?;
            if waiting >= GREETING_FLUSH_BYTES {
                socket.flush().await?;
                waiting = 0;
            }
        }
        socket.flush().await
    });
    match greeted.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            // Not the client's doing (it is a socket that stopped, or a
            // greeting past the buffer, which paging rules out): logged,
            // and said to the client while its socket still takes it.
            tracing::warn!(?peer, %error, "could not send a client its greeting");
            let refusal = Refusal::unavailable(&error, peer);
            refusal.send(&mut socket).await;
            return None;
        }
        Err(_) => {
            tracing::info!(?peer, "a client did not take its greeting in time");
            return None;
        }
    }
    // From here on frames are written as encoded once for everyone (see
    // `Transport`). The greeting is flushed and nothing was read, so the
    // socket taken out of its wrapper loses nothing, and tungstenite's
    // write buffer, grown to the history frame, goes with the wrapper.
    let config = *socket.get_config();
    let transport = Transport::new(socket.into_inner(), config);
    Some(Entered {
        transport,
        after: query.after,
        name,
        url_room,
        first,
        context,
    })
}

/// The name held, the URL's room entered, and the greeting's frames
/// (`welcome`, `history` and what it replays, `online`).
type Admitted = (NameGuard, Arc<str>, Memberships, Vec<String>);

/// Who the connection is: the credential's name, or the guest `?user=`
/// when it names a name nobody claimed (the credential wins when the two
/// agree, or when there is no `?user=`); and whether the credential let
/// it in (so that signing it out closes the connection).
async fn identify(query: &JoinQuery, context: &Context) -> Result<(Identity, bool), Refusal> {
    let asked = (!query.user.trim().is_empty() || query.credential.is_none())
        .then(|| {
            validate_username(&query.user)
                .and_then(canonical_username)
                .map_err(|error| Refusal::policy(error.code(), error.to_string()))
        })
        .transpose()?;
    if let Some(secret) = &query.credential {
        match context.accounts.identify(secret).await {
            Ok(identity)
                if asked
                    .as_deref()
                    .is_none_or(|asked| name_key(asked) == name_key(&identity.name)) =>
            {
                return Ok((identity, true))
            }
            Err(error @ AccountError::Storage(_)) => {
                return Err(Refusal::unavailable(&error, context.peer))
            }
            Err(error) if asked.is_none() => {
                return Err(Refusal::policy(error.code(), signed_out(&error)))
            }
            // A credential for another name, or no longer valid: `?user=`
            // decides, as a guest.
            _ => {}
        }
    }
    let Some(user) = asked else {
        return Err(Refusal::policy(
            ErrorCode::NotSignedIn,
            "Sign in again.".into(),
        ));
    };
    match context.accounts.claimed(&user).await {
        Ok(Some(_)) => Err(Refusal::policy(
            ErrorCode::NameClaimed,
            AccountError::NameClaimed.to_string(),
        )),
        Ok(None) => Ok((
            Identity {
                name: user,
                claimed: false,
                holder: query
                    .token
                    .as_deref()
                    .and_then(|token| validate_client_id(token).ok())
                    .map(str::to_owned),
                guest_session: None,
            },
            false,
        )),
        Err(error) => Err(Refusal::unavailable(&error, context.peer)),
    }
}

/// Why a session no longer signs anyone in, for the login page.
fn signed_out(error: &AccountError) -> String {
    match error {
        AccountError::NameClaimed => {
            "Someone claimed this name since: enter its password, or pick another name.".into()
        }
        AccountError::WrongPassword
        | AccountError::NotSignedIn
        | AccountError::NotClaimed
        | AccountError::Password(_)
        | AccountError::Name(_)
        | AccountError::AdminName
        | AccountError::TooManyTokens
        | AccountError::Storage(_)
        | AccountError::Hash(_) => "Your session has ended: sign in again.".into(),
    }
}

async fn admit(query: &JoinQuery, context: &Context) -> Result<Admitted, Refusal> {
    let (identity, by_credential) = identify(query, context).await?;
    let key = name_key(&identity.name);
    // A guest's browser: its token, or without one the session that let
    // it in (a script's). What bans know it by, at the door and once in.
    let credential = query.credential.as_ref().map(Secret::id);
    let browser_id = query
        .token
        .as_deref()
        .and_then(|token| validate_client_id(token).ok())
        .or(credential.as_deref());
    let browser = browser_id.map(|id| hex(browser_key(id)));
    let comer = if identity.claimed {
        Comer::Claimed { key: &key }
    } else {
        Comer::Guest {
            key: &key,
            browser: browser.as_deref(),
            address: context.peer.map(|peer| peer.ip()),
        }
    };
    match context.accounts.banned(comer).await {
        Ok(None) => {}
        Ok(Some(ban)) => {
            let until = super::ended::banned_until(ban.until, "A moderator");
            let reason = match ban.reason {
                Some(reason) => format!("{until}: {reason}"),
                None => format!("{until}."),
            };
            return Err(Refusal::policy(ErrorCode::Banned, reason));
        }
        Err(error) => return Err(Refusal::unavailable(&error, context.peer)),
    }
    let user = identity.name;
    let room = match &query.room {
        None => context.limits.default_room.clone(),
        Some(raw) => {
            canonical_room(raw).map_err(|error| Refusal::policy(error.code(), error.to_string()))?
        }
    };
    let rooms = &context.rooms;
    // A block: what it holds is done with once the name is, and the
    // future (as large as the most it holds at any await) need not keep it.
    let name = {
        // What a claimed name's browser posted under it as a guest keeps
        // the key of its session then (the same session, claimed since)
        // or, from the releases before sessions, of its token.
        let session = identity.guest_session.clone().or_else(|| {
            identity
                .claimed
                .then(|| query.credential.as_ref().map(Secret::id))
                .flatten()
        });
        let browser = query
            .token
            .as_deref()
            .and_then(|token| validate_client_id(token).ok());
        let holder = Holder {
            token: identity.holder.as_deref(),
            claimed: identity.claimed,
            as_guest: [session.as_deref(), browser],
            credential: credential.as_deref().filter(|_| by_credential),
            browser: browser_id,
        };
        rooms.connect(&user, &holder).await
    }
    .map_err(|error| Refusal::from_join(error, &user, context.peer))?;
    let (entering, entered) = rooms
        .join(
            &room,
            name.name(),
            query.after,
            context.peer.map(|peer| peer.ip()),
        )
        .await
        .map_err(|error| Refusal::from_join(error, &user, context.peer))?;
    remember_browser_mute(&context.accounts, &entering, &room).await;
    context.accounts.keep_room(name.name(), &room, true).await;
    let welcome = ServerFrame::Welcome {
        user: user.clone(),
        claimed: identity.claimed,
        admin: context.accounts.is_admin(name.name()),
        rooms: context.accounts.rooms_of(name.name()).await,
        retain_days: context.limits.retain_days,
    };
    let moderator = moderates(&context.accounts, name.name(), &room).await;
    let greeting = std::iter::once(welcome)
        .chain(history_frames(
            &room,
            entered.history,
            moderator,
            context.limits.history_page_bytes,
        ))
        .chain([online_frame(&room, entered.online)])
        .map(|frame| frame.to_json())
        .collect();
    let mut first = Memberships::new(Arc::clone(name.name()));
    // The first room is read from its fan-out: nothing to move, nothing
    // to fall behind.
    let _ = first.insert(entering, entered.fanout);
    let url_room = first.first_room_name().unwrap_or_else(|| Arc::from(room));
    Ok((name, url_room, first, greeting))
}

/// Mutes the guest's browser in the room entered if the accounts say it
/// was muted there under some name (a guest renames, and keeps its
/// browser). An account store that cannot answer lets it in unmuted: the
/// name's own mute, in the log, still holds.
pub(super) async fn remember_browser_mute(accounts: &Accounts, entering: &Entering, room: &str) {
    let Some(browser) = entering.name().browser_key() else {
        return;
    };
    match accounts.browser_muted(room, &browser).await {
        Ok(Some(muted)) => entering.mute_browser(&muted, crate::events::now_ms()),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "cannot tell whether a guest's browser is muted"),
    }
}
