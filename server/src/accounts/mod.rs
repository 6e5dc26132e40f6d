//! Names people keep: claimed names with a password, the sessions that
//! prove who a browser is, and API tokens for scripts.
//!
//! A guest's name is theirs while they are connected (see `rooms::names`);
//! a claimed name is theirs for good: only a session signed in with its
//! password (or one of its API tokens) may take it. Sessions are stored
//! by the hash of their secret (`secret`); passwords as argon2id hashes
//! (`password`). A session carries the account's generation when it
//! signed in: a password change moves the generation on, which signs out
//! every session but the one that changed it.
//!
//! Stored where the log is: the SQLite file (`sqlite`), or Redis with
//! several instances (`redis`), so a claim made through one instance holds
//! on every other.

#[macro_use]
mod dispatch {
    /// One call on whichever directory this is.
    macro_rules! directory {
        ($self:ident . $method:ident ( $($arg:expr),* )) => {
            match &$self.directory {
                Directory::Sqlite(directory) => directory.$method($($arg),*).await,
                Directory::Redis(directory) => directory.$method($($arg),*).await,
            }
        };
    }
}
mod moderation;
mod password;
mod redis;
mod secret;
mod sqlite;

use std::collections::HashSet;
use std::time::Duration;

use crate::events::now_ms;

use protocol::{name_key, validate_password};
use protocol::{ErrorCode, NewToken, PasswordError, TokenInfo, UsernameError};

pub(crate) use moderation::{Audited, Comer};
pub(crate) use secret::Secret;

use crate::config::Config;
use crate::store::StoreError;
use password::{HashError, Hasher};
use redis::RedisDirectory;
use sqlite::SqliteDirectory;

/// How long a browser stays signed in.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a claimed name's connections hold it with, on every device: not a
/// browser token (a client id never has a control character, so no
/// client can present this one).
const ACCOUNT_HOLDER: &str = "\u{1}account";

/// A claimed name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    /// As claimed.
    pub(crate) name: String,
    /// The password's argon2id hash (PHC string).
    pub(crate) password: String,
    pub(crate) generation: i64,
}

/// A session or API token as stored (by its secret's hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRecord {
    pub(crate) key: String,
    pub(crate) name: String,
    /// The account's generation when it signed in; `None` for a guest.
    pub(crate) generation: Option<i64>,
    pub(crate) kind: SessionKind,
    /// Ms since the epoch; `None`: until revoked.
    pub(crate) expires_at: Option<i64>,
    /// An API token's name, as its owner gave it.
    pub(crate) label: Option<String>,
    /// The guest session this one was claimed from (see
    /// `Identity::guest_session`), kept across rotations.
    pub(crate) guest_session: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionKind {
    Browser,
    ApiToken,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "session",
            Self::ApiToken => "token",
        }
    }

    fn from_stored(stored: &str) -> Self {
        if stored == "token" {
            Self::ApiToken
        } else {
            Self::Browser
        }
    }
}

/// Who a session says its bearer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The name, as claimed (or as the guest chose it).
    pub(crate) name: String,
    pub(crate) claimed: bool,
    /// What the name is held with while connected (see `rooms::names`):
    /// one value for every device of a claimed name, the session's own
    /// for a guest.
    pub(crate) holder: Option<String>,
    /// For a claimed name's session: the id of the guest session this
    /// browser claimed the name from (what it posted as a guest is keyed
    /// by it, and stays its own), if it did.
    pub(crate) guest_session: Option<String>,
}

/// Why a request about names is refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AccountError {
    #[error("This name is protected; enter its password.")]
    NameClaimed,
    #[error("Wrong password.")]
    WrongPassword,
    #[error("Sign in first.")]
    NotSignedIn,
    #[error("Only a claimed name has a password and API tokens.")]
    NotClaimed,
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("{0}")]
    Name(#[from] UsernameError),
    #[error("This name is the server's admin's: only its operator binds it.")]
    AdminName,
    #[error("This name holds as many API tokens as it may: revoke one first.")]
    TooManyTokens,
    #[error("The names' store is unavailable right now: {0}")]
    Storage(#[from] StoreError),
    #[error("{0}")]
    Hash(#[from] HashError),
}

impl AccountError {
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            Self::NameClaimed => ErrorCode::NameClaimed,
            Self::WrongPassword => ErrorCode::WrongPassword,
            Self::NotSignedIn | Self::NotClaimed => ErrorCode::NotSignedIn,
            Self::AdminName => ErrorCode::NotAllowed,
            Self::TooManyTokens => ErrorCode::TooManyTokens,
            Self::Password(error) => error.code(),
            Self::Name(error) => error.code(),
            Self::Storage(_) | Self::Hash(_) => ErrorCode::StorageUnavailable,
        }
    }
}

enum Directory {
    Sqlite(SqliteDirectory),
    Redis(RedisDirectory),
}

pub(crate) struct Accounts {
    directory: Directory,
    hasher: Hasher,
    /// The keys of `--admin` names.
    admins: HashSet<String>,
    /// Password attempts per minute per name and per address.
    sign_ins_per_minute: u32,
    address_sign_ins_per_minute: u32,
    /// Most rooms kept per claimed name (`--max-rooms-per-connection`: a
    /// page can be in no more at once); joining another forgets the one
    /// joined longest ago, so a name's list, and its welcome, stay bounded
    /// however many rooms it walks through.
    rooms_kept: usize,
}

/// What a password attempt counts against across the instances: the name,
/// then the address (its /64 for IPv6), when there is one.
fn attempt_subjects(key: &str, address: Option<std::net::IpAddr>) -> impl Iterator<Item = String> {
    std::iter::once(format!("name:{key}"))
        .chain(address.map(|address| format!("address:{}", crate::limits::address_key(address))))
}

impl Accounts {
    /// The names' directory where `config`'s log is (the log's store has
    /// migrated the SQLite file already).
    pub(crate) async fn open(config: &Config) -> Result<Self, StoreError> {
        let directory = match &config.redis_url {
            None => Directory::Sqlite(SqliteDirectory::open(&config.db, &config.default_room)?),
            Some(url) => {
                let redis = crate::cluster::connect_url(url).await?;
                Directory::Redis(RedisDirectory::new(redis, &config.redis_prefix))
            }
        };
        let admins = config
            .admins
            .iter()
            .filter_map(|admin| protocol::canonical_username(admin.trim()).ok())
            .map(|admin| name_key(&admin))
            .collect();
        Ok(Self {
            directory,
            hasher: Hasher::new(),
            admins,
            sign_ins_per_minute: config.sign_ins_per_minute,
            address_sign_ins_per_minute: config.address_sign_ins_per_minute,
            rooms_kept: config.max_rooms_per_connection.max(1),
        })
    }

    /// Binds the `--admin` names nobody claimed yet with the operator's
    /// `password` (`--admin-password`); warns of those left unbound, which
    /// nobody can use until then.
    pub(crate) async fn bind_admins(
        &self,
        admins: &[String],
        password: Option<&str>,
    ) -> Result<(), AccountError> {
        for admin in admins {
            let Ok(name) = protocol::canonical_username(admin.trim()) else {
                tracing::warn!(admin, "an --admin name that is no valid name is ignored");
                continue;
            };
            if self.claimed(&name).await?.is_some() {
                continue;
            }
            let Some(password) = password else {
                tracing::warn!(
                    admin = %name,
                    "the admin name is unbound: set CHAT_ADMIN_PASSWORD to bind it at start \
                     (nobody else can claim it)"
                );
                continue;
            };
            let hash = self.hasher.hash(password.to_owned()).await?;
            let key = name_key(&name);
            if directory!(self.create_account(key, name.clone(), hash, now_ms()))? {
                tracing::info!(admin = %name, "bound the admin name with the operator's password");
            }
        }
        Ok(())
    }

    /// Counts a password attempt for the name keyed `key` from `address`
    /// across every instance (with Redis; one instance counts in its own
    /// budgets): how long to wait if it is one too many, else when it was
    /// counted (to take it back with [`Accounts::uncount_attempt`]).
    pub(crate) async fn count_attempt(
        &self,
        key: &str,
        address: Option<std::net::IpAddr>,
    ) -> Result<Result<i64, Duration>, AccountError> {
        let now = now_ms();
        let Directory::Redis(directory) = &self.directory else {
            return Ok(Ok(now));
        };
        let limits = [self.sign_ins_per_minute, self.address_sign_ins_per_minute];
        let subjects: Vec<(String, u32)> = attempt_subjects(key, address).zip(limits).collect();
        let wait = directory.count_attempt(&subjects, now).await?;
        Ok(match wait {
            Some(ms) => Err(Duration::from_millis(u64::try_from(ms).unwrap_or(0).max(1))),
            None => Ok(now),
        })
    }

    /// Takes back an attempt counted `at` (see [`Accounts::count_attempt`]):
    /// it was no wrong guess at a claimed name.
    pub(crate) async fn uncount_attempt(
        &self,
        key: &str,
        address: Option<std::net::IpAddr>,
        at: i64,
    ) -> Result<(), AccountError> {
        let Directory::Redis(directory) = &self.directory else {
            return Ok(());
        };
        let subjects: Vec<String> = attempt_subjects(key, address).collect();
        Ok(directory.uncount_attempt(&subjects, at).await?)
    }

    /// The claimed account of the name `canonical` (or of one that looks
    /// like it), if any.
    pub(crate) async fn claimed(&self, canonical: &str) -> Result<Option<Account>, AccountError> {
        let key = name_key(canonical);
        Ok(directory!(self.account(key))?)
    }

    /// A new session for `name` (canonical): with the name's password if it is
    /// claimed, as a guest otherwise (a password given for a name nobody
    /// claimed is not checked: the session is a guest's). The caller has
    /// counted the attempt against the rate limits.
    pub(crate) async fn sign_in(
        &self,
        name: &str,
        password: Option<String>,
    ) -> Result<(Identity, Secret), AccountError> {
        let name = name.to_owned();
        let key = name_key(&name);
        let account = directory!(self.account(key.clone()))?;
        let (name, generation) = match (account, password) {
            (None, _) => (name, None),
            (Some(_), None) => return Err(AccountError::NameClaimed),
            (Some(account), Some(password)) => {
                let stored = Stored::of(&account.password);
                let Some(hash) = stored.signs_in() else {
                    return Err(AccountError::WrongPassword);
                };
                if !self.hasher.verify(password, hash.to_owned()).await? {
                    return Err(AccountError::WrongPassword);
                }
                // A reset's password signs in once: after that it only
                // lets its session choose the name's own.
                if let Stored::Reset(hash) = stored {
                    let used = Stored::Used(hash).to_string();
                    let swapped = directory!(self.swap_password(
                        key.clone(),
                        account.password.clone(),
                        used
                    ))?;
                    if !swapped {
                        return Err(AccountError::WrongPassword);
                    }
                }
                (account.name, Some(account.generation))
            }
        };
        let secret = Secret::generate();
        let record = SessionRecord {
            key,
            name,
            generation,
            kind: SessionKind::Browser,
            expires_at: Some(now_ms() + ttl_ms()),
            label: None,
            guest_session: None,
        };
        let identity = identity_of(&record, &secret);
        directory!(self.insert_session(secret.id(), record, now_ms()))?;
        Ok((identity, secret))
    }

    /// Who `secret` (a session cookie or an API token) signs in: what the
    /// WebSocket asks.
    pub(crate) async fn identify(&self, secret: &Secret) -> Result<Identity, AccountError> {
        self.identify_as(secret, &[SessionKind::Browser, SessionKind::ApiToken])
            .await
    }

    /// Who the browser session `secret` signs in: what the HTTP API of
    /// names asks. An API token opens the WebSocket only: once, a token
    /// presented as the cookie could mint more tokens and change the
    /// password's session.
    pub(crate) async fn identify_session(&self, secret: &Secret) -> Result<Identity, AccountError> {
        self.identify_as(secret, &[SessionKind::Browser]).await
    }

    async fn identify_as(
        &self,
        secret: &Secret,
        kinds: &[SessionKind],
    ) -> Result<Identity, AccountError> {
        let record = directory!(self.session(secret.id()))?
            .filter(|record| record.expires_at.is_none_or(|at| at > now_ms()))
            .filter(|record| kinds.contains(&record.kind))
            .ok_or(AccountError::NotSignedIn)?;
        let account = directory!(self.account(record.key.clone()))?;
        match (record.generation, account) {
            (None, None) => Ok(identity_of(&record, secret)),
            // Claimed since, from another browser.
            (None, Some(_)) => Err(AccountError::NameClaimed),
            (Some(generation), Some(account)) if account.generation == generation => Ok(Identity {
                name: account.name,
                claimed: true,
                holder: Some(ACCOUNT_HOLDER.to_owned()),
                guest_session: record.guest_session,
            }),
            // Signed out by a password change.
            (Some(_), _) => Err(AccountError::NotSignedIn),
        }
    }

    pub(crate) async fn sign_out(&self, secret: &Secret) -> Result<(), AccountError> {
        Ok(directory!(self.delete_session(secret.id()))?)
    }

    /// The signed-in guest of `secret` (who [`Accounts::identify`] says is
    /// `identity`) keeps their name with `password`; the session goes on
    /// under a new secret (see [`Accounts::rotate`]).
    pub(crate) async fn claim(
        &self,
        secret: &Secret,
        identity: Identity,
        password: String,
    ) -> Result<(Identity, Secret), AccountError> {
        if identity.claimed {
            return Err(AccountError::NameClaimed);
        }
        // Once, the first visitor to claim an unbound `--admin` name (or a
        // look-alike of it) became the server's admin.
        if self.admins.contains(&name_key(&identity.name)) {
            tracing::warn!(user = %identity.name, "refused a claim of an admin name");
            return Err(AccountError::AdminName);
        }
        validate_password(&password)?;
        let hash = self.hasher.hash(password).await?;
        let key = name_key(&identity.name);
        let now = now_ms();
        if !directory!(self.create_account(key, identity.name.clone(), hash, now))? {
            return Err(AccountError::NameClaimed);
        }
        let rotated = self.rotate(secret, 1).await?;
        Ok((
            Identity {
                name: identity.name,
                claimed: true,
                holder: Some(ACCOUNT_HOLDER.to_owned()),
                guest_session: Some(secret.id()),
            },
            rotated,
        ))
    }

    /// A new secret for the browser session `old`, which now belongs to the
    /// account's `generation`; `old` stops working at once. A claim and a
    /// password change rotate it: once, a copy of the cookie taken before
    /// either stayed valid for its 30 days.
    async fn rotate(&self, old: &Secret, generation: i64) -> Result<Secret, AccountError> {
        let record = directory!(self.session(old.id()))?.ok_or(AccountError::NotSignedIn)?;
        let guest_session = match record.generation {
            // Claimed now: what it posted as a guest is keyed by its id.
            None => Some(old.id()),
            Some(_) => record.guest_session.clone(),
        };
        let secret = Secret::generate();
        let now = now_ms();
        let rotated = SessionRecord {
            generation: Some(generation),
            expires_at: Some(now + ttl_ms()),
            guest_session,
            ..record
        };
        directory!(self.insert_session(secret.id(), rotated, now))?;
        directory!(self.delete_session(old.id()))?;
        Ok(secret)
    }

    /// A claimed name's new password, given its current one, asked by the
    /// session `secret` (who [`Accounts::identify`] says is `identity`):
    /// every other session of the name (browsers and API tokens) is signed
    /// out.
    pub(crate) async fn change_password(
        &self,
        secret: &Secret,
        identity: Identity,
        current: String,
        new: String,
    ) -> Result<(Identity, Secret), AccountError> {
        if !identity.claimed {
            return Err(AccountError::NotClaimed);
        }
        validate_password(&new)?;
        let key = name_key(&identity.name);
        let account = directory!(self.account(key.clone()))?.ok_or(AccountError::NotSignedIn)?;
        let hash = Stored::of(&account.password).hash().to_owned();
        if !self.hasher.verify(current, hash).await? {
            return Err(AccountError::WrongPassword);
        }
        let hash = self.hasher.hash(new).await?;
        let generation = directory!(self.set_password(key, hash, secret.id()))?
            .ok_or(AccountError::NotSignedIn)?;
        let rotated = self.rotate(secret, generation).await?;
        Ok((identity, rotated))
    }

    /// A new password for the claimed name `name` (its operator's
    /// `server admin reset-password`): random, readable, and good for one
    /// sign-in (the session it opens may then give it as the current
    /// password to choose the name's own); every session and API token of
    /// the name is signed out (the caller closes its connections). Answers
    /// the name as claimed, and the password.
    pub(crate) async fn reset_password(
        &self,
        name: &str,
    ) -> Result<(String, String), AccountError> {
        let canonical =
            protocol::canonical_username(name.trim()).map_err(|_| AccountError::NotClaimed)?;
        let account = self
            .claimed(&canonical)
            .await?
            .ok_or(AccountError::NotClaimed)?;
        let password = secret::readable_password();
        let hash = Stored::Reset(&self.hasher.hash(password.clone()).await?).to_string();
        // No session is kept: an id no session has.
        directory!(self.set_password(name_key(&account.name), hash, String::new()))?
            .ok_or(AccountError::NotClaimed)?;
        Ok((account.name, password))
    }

    /// A new API token of `identity` (who a browser session signs in, by
    /// [`Accounts::identify_session`]), as `new` asks: a claimed name's, at
    /// most [`protocol::TOKENS_MAX`] per name, a year at most.
    pub(crate) async fn create_token(
        &self,
        identity: &Identity,
        new: NewToken,
    ) -> Result<(Secret, TokenInfo), AccountError> {
        if !identity.claimed {
            return Err(AccountError::NotClaimed);
        }
        let key = name_key(&identity.name);
        let account = directory!(self.account(key.clone()))?.ok_or(AccountError::NotSignedIn)?;
        if self.live_tokens(&key, account.generation).await?.len() >= protocol::TOKENS_MAX {
            return Err(AccountError::TooManyTokens);
        }
        let days = i64::from(new.expires_in_days.unwrap_or(protocol::TOKEN_DAYS_MAX));
        let token = Secret::generate();
        let record = SessionRecord {
            key,
            name: account.name,
            generation: Some(account.generation),
            kind: SessionKind::ApiToken,
            // A token is never for good (tokens made before tokens
            // expired kept `None`, and stay until revoked).
            expires_at: Some(now_ms() + days * DAY_MS),
            label: new.name,
            guest_session: None,
        };
        let info = token_info(token.id(), &record);
        directory!(self.insert_session(token.id(), record, now_ms()))?;
        Ok((token, info))
    }

    /// The API tokens of the claimed name `secret` signs in.
    pub(crate) async fn tokens(&self, secret: &Secret) -> Result<Vec<TokenInfo>, AccountError> {
        let identity = self.identify_session(secret).await?;
        let key = name_key(&identity.name);
        let Some(account) = directory!(self.account(key.clone()))? else {
            return Ok(Vec::new());
        };
        let tokens = self.live_tokens(&key, account.generation).await?;
        Ok(tokens
            .iter()
            .map(|(id, record)| token_info(id.clone(), record))
            .collect())
    }

    /// Revokes the API token `id` of the name `secret` signs in: whether
    /// it had one by that id.
    pub(crate) async fn revoke_token(
        &self,
        secret: &Secret,
        id: &str,
    ) -> Result<bool, AccountError> {
        let identity = self.identify_session(secret).await?;
        let key = name_key(&identity.name);
        let owned = directory!(self.tokens(key.clone()))?
            .iter()
            .any(|(token, _)| token == id);
        if owned {
            directory!(self.delete_token(key, id.to_owned()))?;
        }
        Ok(owned)
    }

    /// The name's tokens that still work: of the account's current
    /// generation, not expired.
    async fn live_tokens(
        &self,
        key: &str,
        generation: i64,
    ) -> Result<Vec<(String, SessionRecord)>, AccountError> {
        let now = now_ms();
        let mut tokens = directory!(self.tokens(key.to_owned()))?;
        tokens.retain(|(_, record)| {
            record.generation == Some(generation) && record.expires_at.is_none_or(|at| at > now)
        });
        Ok(tokens)
    }
}

fn token_info(id: String, record: &SessionRecord) -> TokenInfo {
    TokenInfo {
        id,
        name: record.label.clone(),
        expires_at: record.expires_at.filter(|&at| at != i64::MAX),
    }
}

/// A day in milliseconds.
const DAY_MS: i64 = 24 * 3600 * 1000;

fn identity_of(record: &SessionRecord, secret: &Secret) -> Identity {
    match record.generation {
        Some(_) => Identity {
            name: record.name.clone(),
            claimed: true,
            holder: Some(ACCOUNT_HOLDER.to_owned()),
            guest_session: record.guest_session.clone(),
        },
        None => Identity {
            name: record.name.clone(),
            claimed: false,
            holder: Some(secret.id()),
            guest_session: None,
        },
    }
}

fn ttl_ms() -> i64 {
    i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX)
}

/// An account's stored password: its argon2 hash (PHC string), or one
/// an operator's reset made (`reset:`), or that reset's once it signed in
/// (`used:`), which only lets a session choose the name's own password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored<'a> {
    Chosen(&'a str),
    Reset(&'a str),
    Used(&'a str),
}

impl<'a> Stored<'a> {
    const RESET: &'static str = "reset:";
    const USED: &'static str = "used:";

    fn of(stored: &'a str) -> Self {
        if let Some(hash) = stored.strip_prefix(Self::RESET) {
            Self::Reset(hash)
        } else if let Some(hash) = stored.strip_prefix(Self::USED) {
            Self::Used(hash)
        } else {
            Self::Chosen(stored)
        }
    }

    /// The hash a password is checked against.
    fn hash(self) -> &'a str {
        match self {
            Self::Chosen(hash) | Self::Reset(hash) | Self::Used(hash) => hash,
        }
    }

    /// The hash a sign-in is checked against, if it may sign in.
    fn signs_in(self) -> Option<&'a str> {
        match self {
            Self::Chosen(hash) | Self::Reset(hash) => Some(hash),
            Self::Used(_) => None,
        }
    }
}

impl std::fmt::Display for Stored<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Chosen(hash) => f.write_str(hash),
            Self::Reset(hash) => write!(f, "{}{hash}", Self::RESET),
            Self::Used(hash) => write!(f, "{}{hash}", Self::USED),
        }
    }
}
