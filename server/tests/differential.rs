//! Both logs and protocol's reducer, side by side: one script of posts,
//! edits, deletions, reactions, replies, mentions and moderators' actions
//! (refusals included) is played against a server on SQLite and, when the
//! tests have a Redis (`CHAT_TEST_REDIS_URL`), one on Redis. Each log
//! decides by protocol's rules (`ChangeRequest::check`, `RoomRules::apply`)
//! but stores in its own way (SQL; Redis hashes and streams); the server's
//! window and the client apply `protocol::RoomView`. They must agree:
//! - every action gets the same outcome on both logs (the same event `seq`,
//!   or the same refusal);
//! - the events a bystander heard, folded by the reducer, are the room a
//!   newcomer reads (its greeting, then older pages), from the window and,
//!   after a restart, from the log's own storage;
//! - a client that left halfway and resumes after the restart (`after`)
//!   folds the history and replay it is owed into that same room;
//! - and that room is the same on both logs.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use protocol::{ChatMessage, ClientFrame, ErrorCode, ModAction, RoomEvent, RoomView, ServerFrame};
use support::{admin, connect, Client};

const EMOJI: [&str; 3] = ["👍", "🎉", "❤️"];

/// A small deterministic generator (xorshift64*): the same seed plays the
/// same script on every log.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// What one action came to: the `seq` of the event it stored, or why it
/// was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Stored(u64),
    Refused(ErrorCode),
}

/// Who acts: two guests and the admin (who moderates every room).
struct Cast {
    actors: Vec<(&'static str, Client)>,
}

/// Plays `steps` actions from `seed` against the server at `addr` (which
/// `restart` stops and starts again on the same log), checks the reducer
/// against the log, and returns the outcomes and the room as a newcomer
/// is greeted with it after the restart, times left out (each log stamps
/// its own).
async fn play(
    seed: u64,
    steps: usize,
    config: server::Config,
) -> (Vec<Outcome>, BTreeMap<u64, ChatMessage>, (bool, Vec<u64>)) {
    let server = support::spawn_server(config.clone()).await;
    let addr = server.addr;
    let mut watcher = connect(addr, "watcher", None).await;
    let _ = greeting(&mut watcher, "watcher").await;
    // Hears the first half, then leaves; resumes after the restart.
    let mut leaver = Some(connect(addr, "leaver", None).await);
    if let Some(leaver) = leaver.as_mut() {
        let _ = greeting(leaver, "leaver").await;
    }
    let mut left_with = RoomView::default();
    let mut cast = Cast {
        actors: vec![
            ("alice", guest(addr, "alice").await),
            ("bob", guest(addr, "bob").await),
            ("root", admin(addr).await),
        ],
    };
    let mut dice = Dice(seed);
    // The script's own view of the room, from the outcomes: it chooses
    // actions that change something or are refused (one answer each).
    let mut model = RoomView::default();
    let mut outcomes = Vec::new();
    for step in 0..steps {
        if step == steps / 2 {
            if let Some(mut leaver) = leaver.take() {
                left_with = fold_until(&mut leaver, RoomView::default(), model.seq).await;
            }
        }
        let (who, frame, ends) = next_action(&mut dice, &model, step);
        let actor = &mut cast.actors[who].1;
        actor.send_frame(frame).await;
        let outcome = outcome_of(actor, ends, &mut model).await;
        outcomes.push(outcome);
    }
    // Everything the bystander heard, folded by the reducer.
    let heard = fold_until(&mut watcher, RoomView::default(), model.seq).await;
    assert_eq!(
        heard, model,
        "seed {seed}: the bystander heard the room the actors made"
    );
    let rules = (heard.rules.locked, heard.rules.pinned.clone());
    let (from_window, shown) = whole_room(&mut connect(addr, "newcomer", None).await).await;
    assert_eq!(
        from_window, heard.messages,
        "seed {seed}: the window is the reducer's room"
    );
    assert_eq!(
        shown, rules,
        "seed {seed}: locked and pinned, in the window"
    );
    drop((cast, watcher));
    server.stop().await;

    let server = support::spawn_server(config).await;
    let (stored, shown) = whole_room(&mut connect(server.addr, "later", None).await).await;
    assert_eq!(
        stored, heard.messages,
        "seed {seed}: the log's storage is the reducer's room"
    );
    assert_eq!(shown, rules, "seed {seed}: locked and pinned, in storage");
    let after = left_with.seq;
    let mut back = connect(server.addr, "leaver", Some(after)).await;
    let resumed = resume(&mut back, left_with).await;
    assert_eq!(
        resumed, heard.messages,
        "seed {seed}: resuming after {after} from storage makes the reducer's room"
    );
    server.stop().await;
    let timeless = stored
        .into_iter()
        .map(|(id, mut message)| {
            message.date_time = 0;
            message.edited_at = message.edited_at.map(|_| 1);
            (id, message)
        })
        .collect();
    (outcomes, timeless, shown)
}

/// The next action: who, the frame, and the kind of event that ends it
/// (a moderator's deletion stores a deletion, then its notice).
fn next_action(dice: &mut Dice, model: &RoomView, step: usize) -> (usize, ClientFrame, Kind) {
    let ids: Vec<u64> = model.messages.keys().copied().collect();
    let shown: Vec<u64> = model
        .messages
        .values()
        .filter(|message| !message.deleted)
        .map(|message| message.id)
        .collect();
    let who = dice.below(3) as usize;
    let name = ["alice", "bob", "root"][who];
    let roll = dice.below(100);
    if roll < 35 || ids.is_empty() {
        let mention = ["", " @alice", " @Bob", " **bold** and `code`"][dice.below(4) as usize];
        let reply_to = (dice.below(3) == 0 && !ids.is_empty()).then(|| dice.pick(&ids));
        let frame = ClientFrame::Send {
            client_id: format!("c-{step}"),
            msg: format!("message {step}{mention}\nsecond line"),
            room: None,
            reply_to,
        };
        return (who, frame, Kind::Message);
    }
    if roll < 50 {
        let id = dice.pick(&ids);
        let msg = format!("edited at {step} @alice");
        return (
            who,
            ClientFrame::Edit {
                room: None,
                id,
                msg,
            },
            Kind::Edited,
        );
    }
    if roll < 60 && !shown.is_empty() {
        let id = dice.pick(&shown);
        return (who, ClientFrame::Delete { room: None, id }, Kind::Deleted);
    }
    if roll < 85 {
        let id = dice.pick(&ids);
        let emoji = dice.pick(&EMOJI);
        let given = model.messages[&id]
            .reactions
            .iter()
            .any(|given| given.emoji == emoji && given.users.iter().any(|user| user == name));
        let frame = ClientFrame::React {
            room: None,
            id,
            emoji: emoji.to_owned(),
            on: !given,
        };
        return (who, frame, Kind::Reaction);
    }
    // The admin moderates.
    let (action, target, id) = match dice.below(10) {
        0 | 1 if !shown.is_empty() => (ModAction::Delete, None, Some(dice.pick(&shown))),
        0..=2 if model.rules.locked => (ModAction::Unlock, None, None),
        0..=2 => (ModAction::Lock, None, None),
        // Every message of alice's goes (a purge of no message is still
        // the room's notice).
        3 => (ModAction::Purge, Some("alice"), None),
        8 if !model.rules.pinned.is_empty() => {
            (ModAction::Unpin, None, Some(dice.pick(&model.rules.pinned)))
        }
        8 | 9 if !shown.is_empty() => (ModAction::Pin, None, Some(dice.pick(&shown))),
        _ if model.rules.mutes.contains_key("bob") => (ModAction::Unmute, Some("bob"), None),
        _ => (ModAction::Mute, Some("bob"), None),
    };
    // A mute for good, or for ten minutes.
    let duration_s = (action == ModAction::Mute && dice.below(2) == 0).then_some(600);
    let frame = ClientFrame::Moderate {
        room: None,
        action,
        target: target.map(str::to_owned),
        id,
        duration_s,
        reason: None,
        all_rooms: false,
    };
    (2, frame, Kind::Moderated)
}

/// The frame that ends an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    Edited,
    Deleted,
    Reaction,
    Moderated,
}

impl Kind {
    fn of(frame: &ServerFrame) -> Option<Self> {
        match frame {
            ServerFrame::Message { .. } => Some(Self::Message),
            ServerFrame::Edited { .. } => Some(Self::Edited),
            ServerFrame::Deleted { .. } => Some(Self::Deleted),
            ServerFrame::Reaction { .. } => Some(Self::Reaction),
            ServerFrame::Moderated { .. } => Some(Self::Moderated),
            ServerFrame::Error { .. }
            | ServerFrame::Welcome { .. }
            | ServerFrame::History { .. }
            | ServerFrame::Older { .. }
            | ServerFrame::Online { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::Pong => None,
        }
    }
}

/// Reads `actor`'s frames until its action's end: a refusal, or the event
/// of kind `ends` newer than any before it (older ones are others'
/// actions still reaching it). The action's events go into `model`.
async fn outcome_of(actor: &mut Client, ends: Kind, model: &mut RoomView) -> Outcome {
    loop {
        let frame = actor.recv().await;
        if let ServerFrame::Error { code, .. } = frame {
            return Outcome::Refused(code);
        }
        let kind = Kind::of(&frame);
        let Some((_, event)) = RoomEvent::of_frame(frame) else {
            continue;
        };
        if event.seq() <= model.seq {
            continue;
        }
        model.apply(&event);
        if kind == Some(ends) {
            return Outcome::Stored(event.seq());
        }
    }
}

/// `view` with the room events `client` hears applied, until it holds
/// event `seq`.
async fn fold_until(client: &mut Client, mut view: RoomView, seq: u64) -> RoomView {
    while view.seq < seq {
        if let Some((_, event)) = RoomEvent::of_frame(client.recv().await) {
            view.apply(&event);
        }
    }
    view
}

/// Everything a newcomer can read: its greeting, then older pages (of
/// seven) until there are none; and whether the room is locked, and what
/// is pinned.
async fn whole_room(client: &mut Client) -> (BTreeMap<u64, ChatMessage>, (bool, Vec<u64>)) {
    let (mut messages, shown, mut has_older) = loop {
        match client.recv().await {
            ServerFrame::Welcome { .. } => {}
            ServerFrame::History {
                messages,
                locked,
                pinned,
                has_older,
                ..
            } => break (by_id(messages), (locked, pinned), has_older),
            other => panic!("expected a greeting, got {other:?}"),
        }
    };
    while has_older {
        let before = messages
            .keys()
            .next()
            .copied()
            .expect("older than something");
        client
            .send_frame(ClientFrame::LoadOlder {
                before,
                limit: 7,
                room: None,
            })
            .await;
        loop {
            if let ServerFrame::Older {
                messages: page,
                has_older: more,
                ..
            } = client.recv().await
            {
                assert!(
                    page.len() <= 7 && !page.is_empty(),
                    "{} in a page",
                    page.len()
                );
                messages.extend(by_id(page));
                has_older = more;
                break;
            }
        }
    }
    (messages, shown)
}

/// A resumed greeting (`after` the newest event `view` holds) applied to
/// `view`: the messages since, in their current state, and the changes
/// since to the messages before, replayed.
async fn resume(client: &mut Client, mut view: RoomView) -> BTreeMap<u64, ChatMessage> {
    loop {
        match client.recv().await {
            ServerFrame::Welcome { .. } => {}
            ServerFrame::History {
                messages, reset, ..
            } => {
                assert!(!reset, "the room could resume");
                view.messages.extend(by_id(messages));
                break;
            }
            other => panic!("expected a greeting, got {other:?}"),
        }
    }
    loop {
        let frame = client.recv().await;
        if let ServerFrame::Online { .. } = frame {
            return view.messages;
        }
        let (_, event) = RoomEvent::of_frame(frame).expect("a replayed event");
        view.apply(&event);
    }
}

fn by_id(page: Vec<protocol::Posted>) -> BTreeMap<u64, ChatMessage> {
    page.into_iter()
        .map(|posted| (posted.message.id, posted.message))
        .collect()
}

/// A greeting's messages by id, and whether the room is locked.
async fn greeting(client: &mut Client, who: &str) -> (BTreeMap<u64, ChatMessage>, bool) {
    loop {
        match client.recv().await {
            ServerFrame::Welcome { .. } => {}
            ServerFrame::History {
                messages, locked, ..
            } => {
                let messages = messages
                    .into_iter()
                    .map(|posted| (posted.message.id, posted.message))
                    .collect();
                return (messages, locked);
            }
            other => panic!("expected {who}'s greeting, got {other:?}"),
        }
    }
}

async fn guest(addr: SocketAddr, user: &str) -> Client {
    let mut client = connect(addr, user, None).await;
    let _ = greeting(&mut client, user).await;
    client
}

/// A log of its own in `data`: SQLite, or Redis at `redis`.
fn config(data: &tempfile::TempDir, redis: Option<String>) -> server::Config {
    let mut config = support::test_config(data);
    support::with_admin(&mut config);
    config.redis_url = redis;
    // A short greeting: the rest is read page by page.
    config.history = 10;
    config
}

#[tokio::test]
async fn both_logs_and_the_reducer_agree_on_every_event() {
    for seed in [0x5eed_0001_u64, 0x0dd_ba11, 0xc0ff_ee00_1234] {
        let sqlite_data = tempfile::tempdir().expect("temp dir");
        let on_sqlite = play(seed, 90, config(&sqlite_data, None)).await;
        assert!(
            on_sqlite.0.iter().any(|o| matches!(o, Outcome::Refused(_))),
            "seed {seed}: the script tries refusals too: {:?}",
            on_sqlite.0
        );
        let Some(redis) = support::shared_redis() else {
            continue;
        };
        let redis_data = tempfile::tempdir().expect("temp dir");
        let on_redis = play(seed, 90, config(&redis_data, Some(redis))).await;
        assert_eq!(on_sqlite.0, on_redis.0, "seed {seed}: the same outcomes");
        assert_eq!(on_sqlite.1, on_redis.1, "seed {seed}: the same room");
        assert_eq!(on_sqlite.2, on_redis.2, "seed {seed}: the same lock");
    }
}
