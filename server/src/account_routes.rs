//! The HTTP API of names (documented in `protocol`'s `account`):
//! `/api/session` (sign in, who am I, sign out), `/api/claim`,
//! `/api/password`, `/api/tokens`.
//!
//! Every request that changes state must come from one of the chat's own
//! pages (the `Origin` check of the WebSocket), besides the cookie's
//! `SameSite=Strict`. Bodies are small JSON; passwords go from the body to
//! the hasher and nowhere else (never into a log line: the request types'
//! `Debug` hides them).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use protocol::{canonical_username, name_key, validate_username};
use protocol::{ApiError, ApiToken, Claim, ErrorCode, NewToken, PasswordChange, SignIn, SignedIn};
use serde::de::DeserializeOwned;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::accounts::{AccountError, Identity, Secret, SESSION_TTL};
use crate::events::event_frame;
use crate::events::Event;
use crate::listener::Peer;
use crate::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "chat_session";
/// Most bytes in a request body (a name and two passwords fit easily).
const BODY_MAX_BYTES: u64 = 4 * 1024;

/// Whether the session cookie is marked `Secure`: always when the chat's
/// public origins are all `https`, and per request behind a proxy that
/// says the request came over HTTPS (`--behind-proxy`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookiePolicy {
    pub(crate) always_secure: bool,
    pub(crate) trust_forwarded_proto: bool,
}

/// What every request of this API carries: where from, and its cookie.
struct Request {
    peer: Option<IpAddr>,
    secret: Option<Secret>,
    secure: bool,
}

pub(crate) fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let api = warp::path("api");
    let session = api.and(warp::path("session")).and(warp::path::end());
    // Each path before its method: a path that is none of these must be
    // refused as not found, not as the wrong method.
    let sign_in = session
        .and(warp::post())
        .and(from_own_page(state.clone()))
        .and(body::<SignIn>())
        .then({
            let state = state.clone();
            move |request, body| sign_in(state.clone(), request, body)
        });
    let who = session.and(warp::get()).and(request(state.clone())).then({
        let state = state.clone();
        move |request| who_am_i(state.clone(), request)
    });
    let sign_out = session
        .and(warp::delete())
        .and(from_own_page(state.clone()))
        .then({
            let state = state.clone();
            move |request| sign_out(state.clone(), request)
        });
    let claim = api
        .and(warp::path("claim"))
        .and(warp::path::end())
        .and(warp::post())
        .and(from_own_page(state.clone()))
        .and(body::<Claim>())
        .then({
            let state = state.clone();
            move |request, body| claim(state.clone(), request, body)
        });
    let password = api
        .and(warp::path("password"))
        .and(warp::path::end())
        .and(warp::post())
        .and(from_own_page(state.clone()))
        .and(body::<PasswordChange>())
        .then({
            let state = state.clone();
            move |request, body| change_password(state.clone(), request, body)
        });
    let audit = api
        .and(warp::path("audit"))
        .and(warp::path::end())
        .and(warp::get())
        .and(request(state.clone()))
        .then({
            let state = state.clone();
            move |request| audit(state.clone(), request)
        });
    let moderation = api
        .and(warp::path("moderation"))
        .and(warp::path::end())
        .and(warp::get())
        .and(request(state.clone()))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then({
            let state = state.clone();
            move |request, query| moderation_view(state.clone(), request, query)
        });
    let messages = api
        .and(warp::path("moderation"))
        .and(warp::path("messages"))
        .and(warp::path::end())
        .and(warp::get())
        .and(request(state.clone()))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .then({
            let state = state.clone();
            move |request, query| messages_of(state.clone(), request, query)
        });
    let tokens_path = api.and(warp::path("tokens"));
    let new_token = tokens_path
        .and(warp::path::end())
        .and(warp::post())
        .and(from_own_page(state.clone()))
        .and(optional_body::<NewToken>())
        .then({
            let state = state.clone();
            move |request, body| create_token(state.clone(), request, body)
        });
    let list_tokens = tokens_path
        .and(warp::path::end())
        .and(warp::get())
        .and(request(state.clone()))
        .then({
            let state = state.clone();
            move |request| list_tokens(state.clone(), request)
        });
    let revoke_token = tokens_path
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(warp::delete())
        .and(from_own_page(state.clone()))
        .then(move |id, request| revoke_token(state.clone(), request, id));
    let tokens = new_token.or(list_tokens).unify().or(revoke_token).unify();
    sign_in
        .or(who)
        .unify()
        .or(sign_out)
        .unify()
        .or(claim)
        .unify()
        .or(password)
        .unify()
        .or(tokens)
        .unify()
        .or(audit)
        .unify()
        .or(moderation)
        .unify()
        .or(messages)
        .unify()
        .boxed()
}

/// The request's address, cookie and scheme.
fn request(state: AppState) -> BoxedFilter<(Request,)> {
    warp::ext::optional::<Peer>()
        .and(warp::cookie::optional::<String>(SESSION_COOKIE))
        .and(warp::header::optional::<String>("x-forwarded-proto"))
        .map(
            move |peer: Option<Peer>, cookie: Option<String>, proto: Option<String>| {
                let policy = state.cookies;
                let forwarded_https = policy.trust_forwarded_proto
                    && proto.is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
                Request {
                    peer: peer.map(|Peer(address)| address.ip()),
                    secret: cookie.as_deref().map(Secret::presented),
                    secure: policy.always_secure || forwarded_https,
                }
            },
        )
        .boxed()
}

/// [`request`], refused with 403 unless it comes from one of the chat's
/// own pages (or from no page: a script, as the WebSocket allows unless
/// `--require-origin`).
fn from_own_page(state: AppState) -> BoxedFilter<(Request,)> {
    let origins = Arc::clone(&state.origins);
    warp::header::optional::<String>("origin")
        .and_then(move |origin: Option<String>| {
            let allowed = origins.allows(origin.as_deref());
            async move {
                if allowed {
                    Ok(())
                } else {
                    tracing::warn!(?origin, "refused a request from another site");
                    Err(warp::reject::custom(ForeignOrigin))
                }
            }
        })
        .untuple_one()
        .and(request(state))
        .boxed()
}

#[derive(Debug)]
pub(crate) struct ForeignOrigin;
impl warp::reject::Reject for ForeignOrigin {}

/// The answer to a request from another site.
pub(crate) fn foreign_origin() -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        ErrorCode::ForbiddenOrigin,
        "This page's origin may not change the chat's sessions.".into(),
        None,
    )
}

/// A request body that is not the JSON its endpoint takes.
struct BadBody(String);

impl BadBody {
    fn reply(self) -> Response {
        refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidFields,
            format!("The body must be JSON as documented: {}.", self.0),
            None,
        )
    }
}

/// A JSON body of type `T`, `T`'s default when there is none, or why
/// not.
fn optional_body<T: DeserializeOwned + Default + Send>() -> BoxedFilter<(Result<T, BadBody>,)> {
    warp::body::content_length_limit(BODY_MAX_BYTES)
        .and(warp::body::bytes())
        .map(|bytes: Bytes| {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(T::default());
            }
            serde_json::from_slice::<T>(&bytes).map_err(|error| BadBody(error.to_string()))
        })
        .boxed()
}

/// A JSON body of type `T`, or why not.
fn body<T: DeserializeOwned + Send>() -> BoxedFilter<(Result<T, BadBody>,)> {
    warp::body::content_length_limit(BODY_MAX_BYTES)
        .and(warp::body::bytes())
        .map(|bytes: Bytes| {
            serde_json::from_slice::<T>(&bytes).map_err(|error| BadBody(error.to_string()))
        })
        .boxed()
}

async fn sign_in(state: AppState, request: Request, body: Result<SignIn, BadBody>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(bad) => return bad.reply(),
    };
    // The request as `Debug` shows it: without its password.
    tracing::debug!(request = ?body, peer = ?request.peer, "sign-in attempt");
    let user = match validate_username(&body.user).and_then(canonical_username) {
        Ok(user) => user,
        Err(error) => return account_refusal(&AccountError::Name(error)),
    };
    let key = name_key(&user);
    // A password attempt, per name and per address, here and (with Redis)
    // across the instances; a guest entry costs what opening a WebSocket
    // does.
    let attempt = match (&body.password, request.peer) {
        (Some(_), peer) => match PasswordAttempt::begin(&state, &key, peer).await {
            Ok(attempt) => Some(attempt),
            Err(wait) => return rate_limited(wait),
        },
        (None, Some(peer)) => match state.budgets.join(peer, Instant::now()) {
            Ok(()) => None,
            Err(wait) => return rate_limited(wait),
        },
        (None, None) => None,
    };
    // A claimed name is refused as claimed (not as taken), online or not.
    if body.password.is_none() {
        match state.accounts.claimed(&user).await {
            Ok(None) => {}
            Ok(Some(_)) => return account_refusal(&AccountError::NameClaimed),
            Err(error) => return account_refusal(&error),
        }
    }
    if body.password.is_none() && state.rooms.is_name_held_by_other(&user, None) {
        return refusal(
            StatusCode::CONFLICT,
            ErrorCode::UsernameTaken,
            format!("The name {user:?} is taken: pick another one."),
            None,
        );
    }
    let signed = state.accounts.sign_in(&user, body.password).await;
    if let Some(attempt) = attempt {
        attempt
            .settle(matches!(signed, Err(AccountError::WrongPassword)))
            .await;
    }
    match signed {
        Ok((identity, secret)) => {
            tracing::info!(user = %identity.name, claimed = identity.claimed, "signed in");
            signed_in(&identity, Some((&secret, request.secure)))
        }
        Err(error) => account_refusal(&error),
    }
}

/// A password attempt, counted before the password is checked (so that
/// guesses sent at once count as many), here and, with Redis, across the
/// instances; taken back unless it was a wrong guess at a claimed name.
struct PasswordAttempt<'a> {
    state: &'a AppState,
    key: &'a str,
    peer: Option<IpAddr>,
    /// When the instances counted it (`None`: Redis could not; this
    /// instance's budget did).
    shared: Option<i64>,
}

impl<'a> PasswordAttempt<'a> {
    async fn begin(
        state: &'a AppState,
        key: &'a str,
        peer: Option<IpAddr>,
    ) -> Result<Self, Duration> {
        state.budgets.sign_in(key, peer, Instant::now())?;
        let mut attempt = Self {
            state,
            key,
            peer,
            shared: None,
        };
        match state.accounts.count_attempt(key, peer).await {
            Ok(Ok(at)) => attempt.shared = Some(at),
            Ok(Err(wait)) => {
                // Refused: it counts nowhere.
                attempt.settle(false).await;
                return Err(wait);
            }
            Err(error) => {
                tracing::warn!(%error, "cannot count a password attempt across instances");
            }
        }
        Ok(attempt)
    }

    /// Keeps the attempt if it was a wrong password, else gives it back.
    async fn settle(self, wrong_password: bool) {
        if wrong_password {
            return;
        }
        let now = Instant::now();
        self.state
            .budgets
            .sign_in_was_no_guess(self.key, self.peer, now);
        if let Some(at) = self.shared {
            if let Err(error) = self
                .state
                .accounts
                .uncount_attempt(self.key, self.peer, at)
                .await
            {
                tracing::warn!(%error, "cannot take back a password attempt across instances");
            }
        }
    }
}

async fn who_am_i(state: AppState, request: Request) -> Response {
    let Some(secret) = request.secret else {
        return account_refusal(&AccountError::NotSignedIn);
    };
    match state.accounts.identify_session(&secret).await {
        Ok(identity) => signed_in(&identity, None),
        Err(error) => account_refusal(&error),
    }
}

async fn sign_out(state: AppState, request: Request) -> Response {
    if let Some(secret) = &request.secret {
        if let Err(error) = state.accounts.sign_out(secret).await {
            return account_refusal(&error);
        }
        // What it let in goes too (once, a signed-out socket kept posting).
        state.rooms.revoke(&secret.id()).await;
    }
    let reply = warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT);
    warp::reply::with_header(
        reply,
        "set-cookie",
        cookie("", Duration::ZERO, request.secure),
    )
    .into_response()
}

async fn claim(state: AppState, request: Request, body: Result<Claim, BadBody>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(bad) => return bad.reply(),
    };
    let Some(secret) = request.secret else {
        return account_refusal(&AccountError::NotSignedIn);
    };
    let identity = match state.accounts.identify_session(&secret).await {
        Ok(identity) => identity,
        Err(error) => return account_refusal(&error),
    };
    // Someone else holds the name now (a guest by `?user=`): theirs
    // while they are here.
    if state
        .rooms
        .is_name_held_by_other(&identity.name, identity.holder.as_deref())
    {
        return refusal(
            StatusCode::CONFLICT,
            ErrorCode::UsernameTaken,
            "Someone else is using this name right now.".into(),
            None,
        );
    }
    match state.accounts.claim(&secret, identity, body.password).await {
        Ok((identity, secret)) => {
            tracing::info!(user = %identity.name, "claimed a name");
            signed_in(&identity, Some((&secret, request.secure)))
        }
        Err(error) => account_refusal(&error),
    }
}

async fn change_password(
    state: AppState,
    request: Request,
    body: Result<PasswordChange, BadBody>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(bad) => return bad.reply(),
    };
    let Some(secret) = request.secret else {
        return account_refusal(&AccountError::NotSignedIn);
    };
    let identity = match state.accounts.identify_session(&secret).await {
        Ok(identity) => identity,
        Err(error) => return account_refusal(&error),
    };
    // The current password is a password attempt like a sign-in.
    let key = name_key(&identity.name);
    let attempt = match PasswordAttempt::begin(&state, &key, request.peer).await {
        Ok(attempt) => attempt,
        Err(wait) => return rate_limited(wait),
    };
    let changed = state
        .accounts
        .change_password(&secret, identity, body.current, body.password)
        .await;
    attempt
        .settle(matches!(changed, Err(AccountError::WrongPassword)))
        .await;
    match changed {
        Ok((identity, secret)) => {
            tracing::info!(user = %identity.name, "changed a password");
            state.rooms.sign_out(&identity.name).await;
            signed_in(&identity, Some((&secret, request.secure)))
        }
        Err(error) => account_refusal(&error),
    }
}

async fn create_token(
    state: AppState,
    request: Request,
    body: Result<NewToken, BadBody>,
) -> Response {
    let new = match body {
        Ok(new) => new,
        Err(bad) => return bad.reply(),
    };
    if let Err(reason) = new.validate() {
        return BadBody(reason).reply();
    }
    let Some(secret) = request.secret else {
        return account_refusal(&AccountError::NotSignedIn);
    };
    let identity = match state.accounts.identify_session(&secret).await {
        Ok(identity) => identity,
        Err(error) => return account_refusal(&error),
    };
    // Once, 1,675 tokens were minted a second, each for good.
    if let Err(wait) = (state.budgets).mint_token(&name_key(&identity.name), Instant::now()) {
        return rate_limited(wait);
    }
    match state.accounts.create_token(&identity, new).await {
        Ok((token, info)) => warp::reply::json(&ApiToken {
            token: token.expose().to_owned(),
            info,
        })
        .into_response(),
        Err(error) => account_refusal(&error),
    }
}

/// `GET /api/tokens`: the name's API tokens (never the tokens themselves).
async fn list_tokens(state: AppState, request: Request) -> Response {
    let Some(secret) = request.secret else {
        return account_refusal(&AccountError::NotSignedIn);
    };
    match state.accounts.tokens(&secret).await {
        Ok(tokens) => warp::reply::json(&tokens).into_response(),
        Err(error) => account_refusal(&error),
    }
}

/// `DELETE /api/tokens/<id>`: revokes one of the name's tokens, and closes
/// the connections it opened, on every instance.
async fn revoke_token(state: AppState, request: Request, id: String) -> Response {
    let Some(secret) = request.secret else {
        return account_refusal(&AccountError::NotSignedIn);
    };
    match state.accounts.revoke_token(&secret, &id).await {
        Ok(true) => {
            state.rooms.revoke(&id).await;
            warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
        }
        Ok(false) => refusal(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "This name has no such token.".into(),
            None,
        ),
        Err(error) => account_refusal(&error),
    }
}

/// `GET /api/audit`: the moderators' actions of every room, newest first
/// (admins only).
async fn audit(state: AppState, request: Request) -> Response {
    let Some(secret) = request.secret else {
        return account_refusal(&AccountError::NotSignedIn);
    };
    let identity = match state.accounts.identify_session(&secret).await {
        Ok(identity) => identity,
        Err(error) => return account_refusal(&error),
    };
    if !state.accounts.is_admin_session(&identity) {
        return refusal(
            StatusCode::FORBIDDEN,
            ErrorCode::NotAllowed,
            "Only an admin reads the audit.".into(),
            None,
        );
    }
    match state.accounts.audit().await {
        Ok(audited) => {
            let frames: Vec<String> = audited
                .into_iter()
                .map(|(room, moderation)| {
                    event_frame(&room, &Event::Moderated(moderation)).to_json()
                })
                .collect();
            let body = format!("[{}]", frames.join(","));
            warp::reply::with_header(body, "content-type", "application/json").into_response()
        }
        Err(error) => account_refusal(&error),
    }
}

/// `?room=<room>`.
#[derive(serde::Deserialize)]
struct RoomQuery {
    room: String,
}

/// `GET /api/moderation?room=<room>`: for the room's moderators, who is
/// muted there, the bans in force (for those who lift them: moderators of
/// every room and admins) and the room's moderation events, newest first.
async fn moderation_view(state: AppState, request: Request, query: String) -> Response {
    let Ok(query) = serde_urlencoded::from_str::<RoomQuery>(&query) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRoom,
            "Say which room: /api/moderation?room=<room>.".into(),
            None,
        );
    };
    let (room, everywhere, _) = match moderator_of(&state, request, &query.room).await {
        Ok(allowed) => allowed,
        Err(refused) => return refused,
    };
    let audit: Vec<_> = match state.accounts.audit().await {
        Ok(audited) => audited
            .into_iter()
            .filter(|(of, _)| *of == room)
            .take(protocol::MODERATION_AUDIT_MAX)
            .map(|(_, moderation)| moderation)
            .collect(),
        Err(error) => return account_refusal(&error),
    };
    let mutes = match state.rooms.rules(&room).await {
        Ok(rules) => rules.mutes,
        Err(error) => {
            tracing::warn!(%error, "cannot read a room's mutes");
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StorageUnavailable,
                "The room's moderation cannot be read now. Try again.".into(),
                None,
            );
        }
    };
    let now = crate::events::now_ms();
    // A mute names a key; the audit has the name as the moderator typed it.
    let spelled = |key: &str| {
        audit
            .iter()
            .filter_map(|moderation| moderation.target.as_deref())
            .find(|target| name_key(target) == key)
            .map_or_else(|| key.to_owned(), str::to_owned)
    };
    let mut mutes: Vec<protocol::Sanction> = mutes
        .into_iter()
        .filter(|(_, until)| *until > now)
        .map(|(key, until)| protocol::Sanction {
            name: spelled(&key),
            until: Some(until).filter(|until| *until < i64::MAX),
            ..protocol::Sanction::default()
        })
        .collect();
    mutes.sort_by(|a, b| a.name.cmp(&b.name));
    let bans = if everywhere {
        match state.accounts.bans_in_force().await {
            Ok(bans) => Some(bans),
            Err(error) => return account_refusal(&error),
        }
    } else {
        None
    };
    let view = protocol::ModerationView {
        audit: audit
            .into_iter()
            .map(|moderation| event_frame(&room, &Event::Moderated(moderation)))
            .collect(),
        room,
        mutes,
        bans,
    };
    warp::reply::json(&view).into_response()
}

/// `room` canonical, whether the asker moderates every room, and the
/// asker's name, if the request's session moderates it; else the refusal
/// to answer.
async fn moderator_of(
    state: &AppState,
    request: Request,
    room: &str,
) -> Result<(String, bool, String), Response> {
    let Some(secret) = request.secret else {
        return Err(account_refusal(&AccountError::NotSignedIn));
    };
    let room = protocol::canonical_room(room).map_err(|error| {
        refusal(
            StatusCode::BAD_REQUEST,
            error.code(),
            error.to_string(),
            None,
        )
    })?;
    let identity = state
        .accounts
        .identify_session(&secret)
        .await
        .map_err(|error| account_refusal(&error))?;
    match state.accounts.session_moderates(&identity, &room).await {
        Ok(Some(everywhere)) => Ok((room, everywhere, identity.name)),
        Ok(None) => Err(refusal(
            StatusCode::FORBIDDEN,
            ErrorCode::NotAllowed,
            format!("Only the moderators of #{room} see its moderation."),
            None,
        )),
        Err(error) => Err(account_refusal(&error)),
    }
}

/// `?room=<room>&name=<name>`.
#[derive(serde::Deserialize)]
struct MessagesQuery {
    room: String,
    name: String,
}

/// `GET /api/moderation/messages?room=<room>&name=<name>`: for the room's
/// moderators, how many of the name's messages show there: what a purge
/// would remove, for its question to say.
async fn messages_of(state: AppState, request: Request, query: String) -> Response {
    let Ok(query) = serde_urlencoded::from_str::<MessagesQuery>(&query) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidFields,
            "Say which room and name: /api/moderation/messages?room=<room>&name=<name>.".into(),
            None,
        );
    };
    let name = match validate_username(&query.name).and_then(canonical_username) {
        Ok(name) => name,
        Err(error) => return account_refusal(&AccountError::Name(error)),
    };
    let (room, _, moderator) = match moderator_of(&state, request, &query.room).await {
        Ok(allowed) => allowed,
        Err(refused) => return refused,
    };
    // Each count reads the room's whole history: a budget per moderator.
    if let Err(wait) = (state.budgets).count_messages(&name_key(&moderator), Instant::now()) {
        return rate_limited(wait);
    }
    match state.rooms.shown_messages_of(&room, &name).await {
        Ok(ids) => warp::reply::json(&protocol::MessagesOf {
            room,
            name,
            count: ids.len(),
        })
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "cannot count a name's messages");
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::StorageUnavailable,
                "The room's history cannot be read now. Try again.".into(),
                None,
            )
        }
    }
}

/// 200 with who this is, and the new session's cookie if there is one.
fn signed_in(identity: &Identity, new_session: Option<(&Secret, bool)>) -> Response {
    let body = warp::reply::json(&SignedIn {
        user: identity.name.clone(),
        claimed: identity.claimed,
    });
    match new_session {
        None => body.into_response(),
        Some((secret, secure)) => warp::reply::with_header(
            body,
            "set-cookie",
            cookie(secret.expose(), SESSION_TTL, secure),
        )
        .into_response(),
    }
}

/// The session cookie: not readable by scripts, not sent with requests
/// from other sites, for the whole chat.
fn cookie(value: &str, max_age: Duration, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age.as_secs()
    )
}

fn account_refusal(error: &AccountError) -> Response {
    let status = match error {
        AccountError::NameClaimed => StatusCode::CONFLICT,
        AccountError::WrongPassword | AccountError::NotSignedIn => StatusCode::UNAUTHORIZED,
        AccountError::NotClaimed | AccountError::AdminName => StatusCode::FORBIDDEN,
        AccountError::TooManyTokens => StatusCode::CONFLICT,
        AccountError::Password(_) | AccountError::Name(_) => StatusCode::BAD_REQUEST,
        AccountError::Storage(_) | AccountError::Hash(_) => {
            tracing::warn!(%error, "cannot serve a request about names");
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    refusal(status, error.code(), error.to_string(), None)
}

fn rate_limited(wait: Duration) -> Response {
    let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let reply = refusal(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        format!("Too many attempts; try again in {seconds} s."),
        Some(millis),
    );
    let mut reply = reply;
    if let Ok(value) = seconds.to_string().parse() {
        reply.headers_mut().insert("retry-after", value);
    }
    reply
}

fn refusal(
    status: StatusCode,
    code: ErrorCode,
    message: String,
    retry_after_ms: Option<u64>,
) -> Response {
    let body = ApiError {
        code,
        message,
        retry_after_ms,
    };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}
