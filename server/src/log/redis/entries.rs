//! What the Redis log holds, read back: stream entries as events, and the
//! `messages` hash's JSON as messages in their current state.

use protocol::{
    excerpt, formatted, ChatMessage, MessageChange, ModAction, Posted, Reactions, ReplyQuote,
    REACTION_NAMES_MAX,
};
use redis::streams::StreamId;
use serde::{Deserialize, Serialize};

use crate::events::{Deletion, Edit, Event, Moderation, NewModeration, Reaction};
use crate::store::StoreError;

/// A message's state in the `messages` hash (see `scripts`): its numbers
/// are text, and flags are `"1"` or absent, as the scripts of earlier
/// releases wrote them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StoredMessage {
    pub(super) user: String,
    #[serde(default)]
    pub(super) msg: String,
    client_id: String,
    date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mentions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    claimed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    edited_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reactions: Option<Vec<StoredReactions>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    /// The stream entry of its newest edit (`N-0`), which a later edit or
    /// its deletion takes out of the stream: only the newest text is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    edits: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct StoredReactions {
    emoji: String,
    /// One name per line.
    users: String,
}

impl StoredMessage {
    pub(super) fn parse(id: u64, json: &str) -> Result<Self, StoreError> {
        serde_json::from_str(json)
            .map_err(|error| StoreError::CorruptEntry(format!("message {id}: {error}")))
    }

    pub(super) fn is_deleted(&self) -> bool {
        self.deleted.is_some()
    }

    /// Whether its text is still the text posted (neither edited nor
    /// deleted since).
    pub(super) fn as_posted(&self) -> bool {
        self.edited_at.is_none() && self.deleted.is_none()
    }

    /// The message it answers.
    pub(super) fn reply_to_id(&self) -> Option<u64> {
        self.reply_to.as_deref().and_then(|id| id.parse().ok())
    }

    /// The key of the browser or account that posted it, if it had one.
    pub(super) fn author_key(&self) -> Option<&str> {
        self.author.as_deref().filter(|key| !key.is_empty())
    }

    /// The message `id`, quoting `quoted` (the state of the message it
    /// answers, if still held).
    pub(super) fn into_posted(
        self,
        id: u64,
        quoted: Option<StoredMessage>,
    ) -> Result<Posted, StoreError> {
        let mut message = self.message(id, REACTION_NAMES_MAX)?;
        if let Some(reply) = &mut message.reply_to {
            *reply = quote(reply.id, quoted.as_ref());
        }
        Ok(Posted {
            message,
            client_id: self.client_id,
        })
    }

    /// Message `id` as held, naming at most `names_max` givers of each
    /// reaction; a reply's quote names the original's id only.
    pub(super) fn message(&self, id: u64, names_max: usize) -> Result<ChatMessage, StoreError> {
        let number = |field: &str, value: &str| -> Result<i64, StoreError> {
            value
                .parse()
                .map_err(|_| StoreError::CorruptEntry(format!("message {id}: {field}")))
        };
        let reply_to = match &self.reply_to {
            None => None,
            Some(original) => Some(ReplyQuote {
                id: u64::try_from(number("replyTo", original)?)
                    .map_err(|_| StoreError::CorruptEntry(format!("message {id}: replyTo")))?,
                ..ReplyQuote::default()
            }),
        };
        Ok(ChatMessage {
            id,
            date_time: number("dateTime", &self.date_time)?,
            edited_at: self
                .edited_at
                .as_deref()
                .map(|at| number("editedAt", at))
                .transpose()?,
            deleted: self.deleted.is_some(),
            claimed: self.claimed.is_some(),
            mentions: lines(self.mentions.as_deref()),
            reactions: self
                .reactions
                .iter()
                .flatten()
                .map(|given| {
                    let mut users = lines(Some(&given.users));
                    let count = users.len();
                    users.truncate(names_max);
                    Reactions {
                        emoji: given.emoji.clone(),
                        count,
                        users,
                    }
                })
                .collect(),
            reply_to,
            user: self.user.clone(),
            formatted: formatted(&self.msg),
            msg: self.msg.clone(),
        })
    }

    /// How message `id`'s state is rewritten once `change` is applied
    /// (protocol's rule, [`MessageChange::keep`]).
    pub(super) fn after(mut self, id: u64, change: &MessageChange) -> Result<Rewrite, StoreError> {
        let mut message = self.message(id, usize::MAX)?;
        change.keep(&mut message);
        let entries = |edits: Option<String>| -> Vec<String> {
            edits
                .map(|edits| edits.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        // Only the newest text stays in the stream: an edit's predecessor
        // goes, and the message and its edit once deleted.
        let (drops, stamped) = match change {
            MessageChange::Edited { .. } => (entries(self.edits.take()), true),
            MessageChange::Deleted => {
                let mut drops = vec![format!("{id}-0")];
                drops.extend(entries(self.edits.take()));
                (drops, false)
            }
            MessageChange::Reacted { .. } => (Vec::new(), false),
        };
        let flag = |on: bool| on.then(|| "1".to_owned());
        self.msg = message.msg;
        self.edited_at = message.edited_at.map(|at| at.to_string());
        self.mentions = (!message.mentions.is_empty()).then(|| message.mentions.join("\n"));
        self.deleted = flag(message.deleted);
        self.reactions = (!message.reactions.is_empty()).then(|| {
            message
                .reactions
                .into_iter()
                .map(|given| StoredReactions {
                    emoji: given.emoji,
                    users: given.users.join("\n"),
                })
                .collect()
        });
        Ok(Rewrite {
            state: self.to_json()?,
            drops,
            at_fields: if stamped { "editedAt" } else { "" },
            entry_field: if stamped { "edits" } else { "" },
        })
    }

    /// The message `id` as an export holds it: every reaction's every
    /// giver, its author's key; `quoted`, the message it answers.
    pub(super) fn exported(
        self,
        id: u64,
        quoted: Option<&StoredMessage>,
    ) -> Result<crate::history_file::StoredPost, StoreError> {
        let mut message = self.message(id, usize::MAX)?;
        if let Some(reply) = &mut message.reply_to {
            *reply = quote(reply.id, quoted);
        }
        Ok(crate::history_file::StoredPost {
            author_key: self.author_key().map(str::to_owned),
            posted: Posted {
                message,
                client_id: self.client_id,
            },
        })
    }

    /// The state of an imported message, as `APPEND` and the changes
    /// after it would have left it; `edits`, the entry of its newest edit.
    pub(super) fn imported(post: &crate::history_file::StoredPost, edits: Option<u64>) -> Self {
        let message = &post.posted.message;
        let flag = |on: bool| on.then(|| "1".to_owned());
        Self {
            user: message.user.clone(),
            msg: message.msg.clone(),
            client_id: post.posted.client_id.clone(),
            date_time: message.date_time.to_string(),
            reply_to: message.reply_to.as_ref().map(|quote| quote.id.to_string()),
            mentions: (!message.mentions.is_empty()).then(|| message.mentions.join("\n")),
            claimed: flag(message.claimed),
            edited_at: message.edited_at.map(|at| at.to_string()),
            deleted: flag(message.deleted),
            reactions: (!message.reactions.is_empty()).then(|| {
                message
                    .reactions
                    .iter()
                    .map(|given| StoredReactions {
                        emoji: given.emoji.clone(),
                        users: given.users.join("\n"),
                    })
                    .collect()
            }),
            author: Some(post.author_key.clone().unwrap_or_default()),
            edits: edits.map(|seq| format!("{seq}-0")),
        }
    }

    /// The stream entry `APPEND` writes for it (without `dateTime`).
    pub(super) fn entry(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("kind", "message".to_owned()),
            ("user", self.user.clone()),
            ("msg", self.msg.clone()),
            ("clientId", self.client_id.clone()),
            ("dateTime", self.date_time.clone()),
        ];
        let optional = [
            ("replyTo", &self.reply_to),
            ("mentions", &self.mentions),
            ("claimed", &self.claimed),
        ];
        fields.extend(
            optional
                .into_iter()
                .filter_map(|(field, value)| Some((field, value.clone()?))),
        );
        fields
    }

    pub(super) fn to_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|error| StoreError::CorruptEntry(error.to_string()))
    }
}

/// A message's new state, for `CHANGE_IF_UNCHANGED`.
pub(super) struct Rewrite {
    pub(super) state: String,
    /// The stream entries whose text must go.
    pub(super) drops: Vec<String>,
    /// The state's fields that take the time the script appends at.
    pub(super) at_fields: &'static str,
    /// The state's field that takes the new entry's id.
    pub(super) entry_field: &'static str,
}

/// How a reply quotes message `id`, whose state is `original` (gone from
/// Redis: trimmed, and shown as deleted).
pub(super) fn quote(id: u64, original: Option<&StoredMessage>) -> ReplyQuote {
    match original {
        Some(original) if !original.is_deleted() => ReplyQuote {
            id,
            user: original.user.clone(),
            excerpt: excerpt(&original.msg),
            deleted: false,
            claimed: original.claimed.is_some(),
        },
        Some(original) => ReplyQuote {
            id,
            user: original.user.clone(),
            excerpt: String::new(),
            deleted: true,
            claimed: original.claimed.is_some(),
        },
        None => ReplyQuote {
            id,
            deleted: true,
            ..ReplyQuote::default()
        },
    }
}

fn lines(text: Option<&str>) -> Vec<String> {
    text.map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The `seq` of stream entry `N-0`.
pub(super) fn entry_seq(entry: &StreamId) -> Result<u64, StoreError> {
    entry
        .id
        .split_once('-')
        .and_then(|(number, _)| number.parse().ok())
        .ok_or_else(|| StoreError::CorruptEntry(entry.id.clone()))
}

/// The stream entry of `change` to message `id` by `user`: the fields
/// [`parse_entry`] reads back, but for `dateTime` (the script's clock).
pub(super) fn change_entry(
    change: &MessageChange,
    id: u64,
    user: &str,
) -> Vec<(&'static str, String)> {
    let mut fields = vec![("id", id.to_string()), ("user", user.to_owned())];
    let kind = match change {
        MessageChange::Edited { msg, mentions, .. } => {
            fields.push(("msg", msg.clone()));
            fields.push(("mentions", mentions.join("\n")));
            "edit"
        }
        MessageChange::Deleted => "delete",
        MessageChange::Reacted { emoji, on, .. } => {
            fields.push(("emoji", emoji.clone()));
            fields.push(("on", if *on { "1" } else { "0" }.to_owned()));
            "react"
        }
    };
    fields.insert(0, ("kind", kind.to_owned()));
    fields
}

/// The stream entry of a moderator's `action`: the fields [`parse_entry`]
/// reads back, but for `dateTime` (the script's clock).
pub(super) fn moderation_entry(action: &NewModeration) -> Vec<(&'static str, String)> {
    let NewModeration {
        room: _,
        action: what,
        target,
        id,
        by,
        until,
        reason,
        all_rooms,
    } = action;
    let mut fields = vec![
        ("kind", "moderate".to_owned()),
        ("action", what.as_str().to_owned()),
        ("user", by.clone()),
    ];
    let optional = [
        ("target", target.clone()),
        ("id", id.map(|id| id.to_string())),
        ("until", until.map(|at| at.to_string())),
        ("reason", reason.clone()),
        ("allRooms", all_rooms.then(|| "1".to_owned())),
    ];
    fields.extend(
        optional
            .into_iter()
            .filter_map(|(field, value)| Some((field, value?)))
            .filter(|(_, value)| !value.is_empty()),
    );
    fields
}

/// A stream entry as the event it records (entries of the releases before
/// rooms have no `kind`: they are messages). A reply's quote is left for
/// the caller to fill in from the `messages` hash (the stream does not
/// repeat the original's text).
pub(super) fn parse_entry(entry: &StreamId) -> Result<Event, StoreError> {
    let corrupt = |what: &str| StoreError::CorruptEntry(format!("{}: {what}", entry.id));
    let field = |name: &str| entry.get::<String>(name).ok_or_else(|| corrupt(name));
    let number =
        |name: &str| -> Result<u64, StoreError> { field(name)?.parse().map_err(|_| corrupt(name)) };
    let seq = entry_seq(entry)?;
    let date_time: i64 = field("dateTime")?
        .parse()
        .map_err(|_| corrupt("dateTime"))?;
    let kind = entry.get::<String>("kind");
    Ok(match kind.as_deref().unwrap_or("message") {
        "message" => Event::Posted(Posted {
            message: ChatMessage {
                id: seq,
                user: field("user")?,
                claimed: entry.get::<String>("claimed").is_some(),
                formatted: formatted(&field("msg")?),
                msg: field("msg")?,
                date_time,
                reply_to: entry
                    .get::<String>("replyTo")
                    .map(|id| id.parse().map_err(|_| corrupt("replyTo")))
                    .transpose()?
                    .map(|id| ReplyQuote {
                        id,
                        ..ReplyQuote::default()
                    }),
                mentions: lines(entry.get::<String>("mentions").as_deref()),
                ..ChatMessage::default()
            },
            client_id: field("clientId")?,
        }),
        "edit" => Event::Edited(Edit::new(
            seq,
            number("id")?,
            field("msg")?,
            date_time,
            lines(entry.get::<String>("mentions").as_deref()),
        )),
        "delete" => Event::Deleted(Deletion {
            seq,
            id: number("id")?,
        }),
        "react" => Event::Reacted(Reaction {
            seq,
            id: number("id")?,
            emoji: field("emoji")?,
            user: field("user")?,
            on: field("on")? == "1",
        }),
        "moderate" => {
            let action = field("action")?;
            Event::Moderated(Moderation {
                seq,
                action: *ModAction::ALL
                    .iter()
                    .find(|known| known.as_str() == action)
                    .ok_or_else(|| corrupt("action"))?,
                target: entry.get::<String>("target"),
                id: entry
                    .get::<String>("id")
                    .map(|id| id.parse().map_err(|_| corrupt("id")))
                    .transpose()?,
                by: field("user")?,
                until: entry
                    .get::<String>("until")
                    .map(|at| at.parse().map_err(|_| corrupt("until")))
                    .transpose()?,
                reason: entry.get::<String>("reason"),
                all_rooms: entry.get::<String>("allRooms").is_some(),
                date_time,
            })
        }
        other => return Err(corrupt(&format!("unknown kind {other:?}"))),
    })
}
