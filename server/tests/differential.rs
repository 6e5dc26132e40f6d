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

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use protocol::{
    Authority, ChatMessage, ClientFrame, ErrorCode, ModAction, RoomEvent, RoomView, ServerFrame,
    ShownRules, Timed,
};
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

/// What a script came to on one log.
struct Played {
    outcomes: Vec<Outcome>,
    /// The room as a newcomer reads it after the restart.
    room: BTreeMap<u64, ChatMessage>,
    rules: ShownRules,
    /// The moderators' actions stored (by wire name).
    taken: BTreeSet<&'static str>,
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
async fn play(seed: u64, steps: usize, config: server::Config) -> Played {
    let server = support::spawn_server(config.clone()).await;
    let addr = server.addr;
    let mut watcher = connect(addr, "watcher", None).await;
    greeted(&mut watcher, "watcher").await;
    // Hears the first half, then leaves; resumes after the restart.
    let mut leaver = Some(connect(addr, "leaver", None).await);
    if let Some(leaver) = leaver.as_mut() {
        greeted(leaver, "leaver").await;
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
    let mut taken = BTreeSet::new();
    for step in 0..steps {
        if step == steps / 2 {
            if let Some(mut leaver) = leaver.take() {
                left_with = fold_until(&mut leaver, RoomView::default(), model.seq).await;
            }
        }
        let (who, frame, ends) = next_action(&mut dice, &model, step);
        let moderation = match &frame {
            ClientFrame::Moderate { action, .. } => Some(*action),
            _ => None,
        };
        let actor = &mut cast.actors[who].1;
        actor.send_frame(frame).await;
        let outcome = outcome_of(actor, ends, &mut model).await;
        if let (Some(action), Outcome::Stored(_)) = (moderation, &outcome) {
            taken.insert(action.as_str());
        }
        outcomes.push(outcome);
    }
    // Everything the bystander heard, folded by the reducer.
    let heard = fold_until(&mut watcher, RoomView::default(), model.seq).await;
    assert_eq!(
        heard, model,
        "seed {seed}: the bystander heard the room the actors made"
    );
    let rules = heard.rules.shown.clone();
    let (from_window, shown) = whole_room(&mut connect(addr, "newcomer", None).await).await;
    assert_eq!(
        from_window, heard.messages,
        "seed {seed}: the window is the reducer's room"
    );
    assert_eq!(
        shown, rules,
        "seed {seed}: the rules everyone sees, in the window"
    );
    drop((cast, watcher));
    server.stop().await;

    let server = support::spawn_server(config).await;
    let (stored, shown) = whole_room(&mut connect(server.addr, "later", None).await).await;
    assert_eq!(
        stored, heard.messages,
        "seed {seed}: the log's storage is the reducer's room"
    );
    assert_eq!(
        shown, rules,
        "seed {seed}: the rules everyone sees, in storage"
    );
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
    Played {
        outcomes,
        room: timeless,
        rules: shown,
        taken,
    }
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
    // The admin moderates: any action a moderator of the room takes (a
    // new one joins the script by itself), on one of the newest messages
    // that show (so that an action meets its undoing) or on a guest.
    let recent = &shown[shown.len().saturating_sub(3)..];
    let actions: Vec<ModAction> = ModAction::ALL
        .iter()
        .copied()
        .filter(|action| action.takes() == Authority::RoomModerator)
        .filter(|action| !action.needs_id() || !recent.is_empty())
        .collect();
    let action = dice.pick(&actions);
    let id = action.needs_id().then(|| dice.pick(recent));
    let target = action.needs_target().then(|| dice.pick(&["alice", "bob"]));
    // For good, or for ten minutes.
    let duration_s = (action.timed() != Timed::Never && dice.below(2) == 0).then_some(600);
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
            | ServerFrame::Results { .. }
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
/// seven) until there are none; and the rules it shows.
async fn whole_room(client: &mut Client) -> (BTreeMap<u64, ChatMessage>, ShownRules) {
    let (mut messages, shown, mut has_older) = loop {
        match client.recv().await {
            ServerFrame::Welcome { .. } => {}
            ServerFrame::History {
                messages,
                rules,
                has_older,
                ..
            } => break (by_id(messages), rules, has_older),
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

/// Waits for `client`'s greeting.
async fn greeted(client: &mut Client, who: &str) {
    loop {
        match client.recv().await {
            ServerFrame::Welcome { .. } => {}
            ServerFrame::History { .. } => return,
            other => panic!("expected {who}'s greeting, got {other:?}"),
        }
    }
}

async fn guest(addr: SocketAddr, user: &str) -> Client {
    let mut client = connect(addr, user, None).await;
    greeted(&mut client, user).await;
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
    let mut taken = BTreeSet::new();
    for seed in [0x5eed_0001_u64, 0x0dd_ba11, 0xc0ff_ee00_1234] {
        let sqlite_data = tempfile::tempdir().expect("temp dir");
        let on_sqlite = play(seed, 90, config(&sqlite_data, None)).await;
        assert!(
            on_sqlite
                .outcomes
                .iter()
                .any(|o| matches!(o, Outcome::Refused(_))),
            "seed {seed}: the script tries refusals too: {:?}",
            on_sqlite.outcomes
        );
        taken.extend(on_sqlite.taken.iter().copied());
        let Some(redis) = support::shared_redis() else {
            continue;
        };
        let redis_data = tempfile::tempdir().expect("temp dir");
        let on_redis = play(seed, 90, config(&redis_data, Some(redis))).await;
        assert_eq!(
            on_sqlite.outcomes, on_redis.outcomes,
            "seed {seed}: the same outcomes"
        );
        assert_eq!(on_sqlite.room, on_redis.room, "seed {seed}: the same room");
        assert_eq!(
            on_sqlite.rules, on_redis.rules,
            "seed {seed}: the same rules"
        );
    }
    // Every action a room's moderator takes was taken (and stored) by the
    // scripts: a new one that cannot be is a failure here, not a gap.
    let every: BTreeSet<&str> = ModAction::ALL
        .iter()
        .filter(|action| action.takes() == Authority::RoomModerator)
        .map(|action| action.as_str())
        .collect();
    assert_eq!(
        taken, every,
        "the scripts take every action of a room's moderator"
    );
}
