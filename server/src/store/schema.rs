//! The SQLite schema, version by version, and the migrations between them.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Where a migration step puts what it moves: the messages of a database
/// from before rooms go to the default room.
pub(super) struct MigrationContext<'a> {
    pub(super) default_room: &'a str,
}

type Migration = fn(&rusqlite::Transaction<'_>, &MigrationContext<'_>) -> rusqlite::Result<()>;

/// The schema, step by step: `MIGRATIONS[n]` takes a database from
/// version `n` to `n + 1` (SQLite's `user_version`), in one transaction.
/// Version 0 is a new file, or one written before the schema had versions
/// (releases up to 2026-11-28, `tests/fixtures/chat-2026-11-28.db`; the
/// release with rooms wrote version 2, `chat-2026-11-28-rooms.db`): the
/// first step's `IF NOT EXISTS` makes both the same. A change to the schema
/// is a new step at the end, never an edit of one that shipped.
const MIGRATIONS: &[Migration] = &[
    |tx, _| tx.execute_batch(SCHEMA_V1),
    |tx, context| {
        tx.execute_batch(SCHEMA_V2)?;
        tx.execute(MOVE_V1_ROOM, [context.default_room])?;
        tx.execute_batch(MOVE_V1_MESSAGES)
    },
    |tx, _| tx.execute_batch(SCHEMA_V3),
    |tx, _| tx.execute_batch(SCHEMA_V4),
    |tx, _| tx.execute_batch(SCHEMA_V5),
    |tx, _| tx.execute_batch(SCHEMA_V6),
    |tx, _| tx.execute_batch(SCHEMA_V7),
    // The search index (see `search.rs`), built from the messages that
    // show.
    // Schema 8's index, made anew by 9: built once, there.
    |tx, _| tx.execute_batch(super::search::SCHEMA),
    |tx, _| {
        tx.execute_batch(super::search::SCHEMA_V9)?;
        super::search::build(tx)
    },
];

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id        INTEGER PRIMARY KEY, -- the room's sequence number
    user      TEXT    NOT NULL,
    msg       TEXT    NOT NULL,
    date_time INTEGER NOT NULL,    -- ms since the Unix epoch, UTC
    client_id TEXT    NOT NULL
);
-- Idempotent send: one message per (user, clientId).
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_sender ON messages (user, client_id);
";

/// Rooms, and each room's log of events numbered by its own `seq`. The only
/// kind so far is `message` (a message was posted: its id is the event's
/// `seq`); later kinds (an edit, a reaction) are rows of the same table,
/// replayed by the same `seq > after`.
const SCHEMA_V2: &str = "
CREATE TABLE rooms (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE, -- canonical: NFC, lower case
    last_seq      INTEGER NOT NULL,        -- the newest seq given out
    last_event_at INTEGER NOT NULL         -- ms since the Unix epoch, UTC
);
CREATE INDEX rooms_by_activity ON rooms (last_event_at);
CREATE TABLE events (
    room      INTEGER NOT NULL REFERENCES rooms (id),
    seq       INTEGER NOT NULL,
    kind      TEXT    NOT NULL,  -- 'message'
    user      TEXT    NOT NULL,
    date_time INTEGER NOT NULL,  -- ms since the Unix epoch, UTC
    client_id TEXT,              -- the sender's, for idempotent sends
    body      TEXT,              -- a message's text
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
-- Idempotent send: one message per (room, user, clientId).
CREATE UNIQUE INDEX events_by_sender ON events (room, user, client_id)
    WHERE client_id IS NOT NULL;
";

/// Version 1's one room becomes the default room (`?1`), if it has
/// messages...
const MOVE_V1_ROOM: &str = "
INSERT INTO rooms (id, name, last_seq, last_event_at)
    SELECT 1, ?1, last, at FROM (SELECT max(id) AS last, max(date_time) AS at FROM messages)
    WHERE last IS NOT NULL
";

/// ...and they become its events, ids unchanged.
const MOVE_V1_MESSAGES: &str = "
INSERT INTO events (room, seq, kind, user, date_time, client_id, body)
    SELECT 1, id, 'message', user, date_time, client_id, msg FROM messages;
DROP TABLE messages;
";

/// Edits, deletions and reactions: rows of `events` of their own kinds,
/// about a message (`target`), and the message rows keep its current
/// state (the text now, `edited_at`, `deleted`), so a page of history is
/// read without replaying the log.
const SCHEMA_V3: &str = "
-- kinds: 'message', 'edit' (body: the new text), 'delete', 'react' and
-- 'unreact' (body: the emoji). A message's target is the message it
-- answers; an edit's, deletion's or reaction's, the message it changes.
ALTER TABLE events ADD COLUMN target INTEGER;
-- A message's: a hash of its author's name and browser token (who may
-- edit it). Never sent to anyone.
ALTER TABLE events ADD COLUMN author_key TEXT;
-- The names a message or edit mentions, one per line.
ALTER TABLE events ADD COLUMN mentions TEXT;
-- A message's last edit, ms since the Unix epoch, UTC.
ALTER TABLE events ADD COLUMN edited_at INTEGER;
-- A deleted message keeps its row (a tombstone), without its text.
ALTER TABLE events ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_by_target ON events (room, target) WHERE target IS NOT NULL;
-- Who reacts to what now; `seq` (the event that added it) orders the
-- emoji of a message and the names of an emoji.
CREATE TABLE reactions (
    room    INTEGER NOT NULL REFERENCES rooms (id),
    message INTEGER NOT NULL,
    emoji   TEXT    NOT NULL,
    user    TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (room, message, emoji, user)
) WITHOUT ROWID;
";

/// Claimed names and sessions (see `crate::accounts`), and which messages
/// a claimed name posted.
const SCHEMA_V4: &str = "
CREATE TABLE accounts (
    key        TEXT    PRIMARY KEY, -- protocol::name_key of the name
    name       TEXT    NOT NULL,    -- as claimed (NFC)
    password   TEXT    NOT NULL,    -- argon2id, PHC string format
    generation INTEGER NOT NULL,    -- one more at each password change
    claimed_at INTEGER NOT NULL     -- ms since the Unix epoch, UTC
) WITHOUT ROWID;
-- Browser sessions and API tokens, by the SHA-256 of their secret (the
-- secret itself is only ever in the cookie or the token's owner's hands).
CREATE TABLE sessions (
    id         TEXT    PRIMARY KEY, -- hex SHA-256 of the secret
    key        TEXT    NOT NULL,    -- the name's key
    name       TEXT    NOT NULL,    -- as signed in
    generation INTEGER,             -- the account's when signed in; NULL: a guest
    kind       TEXT    NOT NULL,    -- 'session' or 'token'
    expires_at INTEGER              -- ms since the Unix epoch; NULL: until revoked
) WITHOUT ROWID;
CREATE INDEX sessions_by_key ON sessions (key);
-- A message posted by a claimed name, signed in.
ALTER TABLE events ADD COLUMN claimed INTEGER NOT NULL DEFAULT 0;
-- Moderation. A moderator's action is an event of kind 'moderate' (user:
-- the moderator, target: the message deleted, body: the rest as JSON);
-- the room's state it leaves is kept beside, in the same transaction.
ALTER TABLE rooms ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
CREATE TABLE mutes (
    room  INTEGER NOT NULL REFERENCES rooms (id),
    key   TEXT    NOT NULL, -- the muted name's key
    until INTEGER NOT NULL, -- ms since the Unix epoch
    PRIMARY KEY (room, key)
) WITHOUT ROWID;
-- Who moderates which room ('' for every room): claimed names' keys.
CREATE TABLE moderators (
    key  TEXT NOT NULL,
    room TEXT NOT NULL,
    PRIMARY KEY (key, room)
) WITHOUT ROWID;
-- Bans, of a name ('name:' and its key) or an address ('address:' and
-- the address, an IPv6 /64 as its prefix), each for a name (its key: an
-- unban lifts the name's and its addresses').
CREATE TABLE bans (
    subject TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    until   INTEGER,          -- ms since the Unix epoch; NULL: for good
    reason  TEXT
) WITHOUT ROWID;
";

/// API tokens get a name (what their owner called them); a claimed
/// session, the id of the guest session it was claimed from (it is given
/// a new secret then).
const SCHEMA_V5: &str = "
ALTER TABLE sessions ADD COLUMN label TEXT;
ALTER TABLE sessions ADD COLUMN guest_session TEXT;
";

/// The rooms a claimed name has joined, so that they follow it to every
/// device (in the order joined).
const SCHEMA_V6: &str = "
CREATE TABLE account_rooms (
    key       TEXT    NOT NULL, -- the name's key
    room      TEXT    NOT NULL, -- canonical
    joined_at INTEGER NOT NULL, -- ms since the Unix epoch
    PRIMARY KEY (key, room)
) WITHOUT ROWID;
";

/// A room's rules (locked, who is muted until when) as one JSON value,
/// `protocol::RoomRules`, written whole by each moderation: a new rule is
/// a field there, not a column here. Version 6's `locked` column and
/// `mutes` table move into it.
const SCHEMA_V7: &str = "
ALTER TABLE rooms ADD COLUMN rules TEXT NOT NULL DEFAULT '{}';
UPDATE rooms SET rules = json_object(
    'locked', json(CASE WHEN locked THEN 'true' ELSE 'false' END),
    'mutes', json((SELECT json_group_object(key, until) FROM mutes WHERE mutes.room = rooms.id))
);
ALTER TABLE rooms DROP COLUMN locked;
DROP TABLE mutes;
";

/// Brings the schema up to date, step by step, each in a transaction. A
/// database from a newer release (a higher version than this one knows) is
/// refused: reading it could lose what the newer schema holds.
pub(super) fn migrate(
    conn: &mut Connection,
    context: &MigrationContext<'_>,
) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let latest = MIGRATIONS.len();
    let from = usize::try_from(found)
        .ok()
        .filter(|&version| version <= latest)
        .ok_or(StoreError::NewerSchema {
            found,
            supported: latest,
        })?;
    for (version, step) in (0_i64..).zip(MIGRATIONS).skip(from) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        step(&tx, context)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(
            from = version,
            to = version + 1,
            "migrated the database's schema"
        );
    }
    Ok(())
}
