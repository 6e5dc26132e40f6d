//! The store over real SQLite files.

use super::*;
use crate::events::{Author, Change, Event, NewChange, NewEvent, NewMessage, Refusal, Stamped};

fn author(user: &str) -> Author {
    Author {
        user: user.into(),
        key: Some(format!("key of {}", user.to_lowercase())),
        guest_keys: Vec::new(),
        claimed: false,
    }
}

fn new(room: &str, user: &str, client_id: &str, msg: &str) -> Stamped {
    Stamped {
        event: NewEvent::Post(NewMessage {
            room: room.into(),
            author: author(user),
            msg: msg.into(),
            client_id: client_id.into(),
            reply_to: None,
            mentions: Vec::new(),
        }),
        at: 1_764_100_000_000,
    }
}

fn change(room: &str, user: &str, id: u64, change: Change) -> Stamped {
    Stamped {
        event: NewEvent::Change(NewChange {
            room: room.into(),
            author: author(user),
            id,
            change,
        }),
        at: 1_764_100_000_500,
    }
}

fn edit(msg: &str) -> Change {
    Change::Edit {
        msg: msg.into(),
        mentions: Vec::new(),
    }
}

fn react(emoji: &str, on: bool) -> Change {
    Change::React {
        emoji: emoji.into(),
        on,
    }
}

/// The seq of a stored event, or what else became of it.
fn seq(appended: &Appended) -> Result<u64, Box<Appended>> {
    match appended {
        Appended::Stored(event) => Ok(event.seq()),
        other => Err(Box::new(other.clone())),
    }
}

fn ids(page: &[Posted]) -> Vec<u64> {
    page.iter().map(|p| p.message.id).collect()
}

fn open(path: &Path) -> Store {
    Store::open(path, "lobby").expect("open")
}

#[test]
fn each_room_has_its_own_sequence_and_it_survives_reopening() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("chat.db");
    {
        let mut store = open(&path);
        let batch = [
            new("lobby", "a", "1", "one"),
            new("rust", "b", "1", "two"),
            new("lobby", "b", "2", "three"),
        ];
        let outcome = store.append(&batch).expect("append");
        let ids: Vec<u64> = outcome
            .iter()
            .map(|appended| match appended {
                Appended::Stored(Event::Posted(p)) | Appended::Duplicate(p) => p.message.id,
                other => panic!("not a post: {other:?}"),
            })
            .collect();
        assert_eq!(ids, [1, 1, 2]);
    }
    let mut store = open(&path);
    store
        .append(&[new("lobby", "a", "3", "four")])
        .expect("append");
    let lobby = store.window("lobby", 10).expect("window");
    assert_eq!(ids(&lobby.recent), [1, 2, 3]);
    assert_eq!((lobby.first_id, lobby.last_seq), (Some(1), 3));
    let rust = store.window("rust", 10).expect("window");
    assert_eq!(rust.recent[0].message.msg, "two");
    let nobody = store.window("empty", 10).expect("window");
    assert_eq!(
        (nobody.recent.len(), nobody.first_id, nobody.last_seq),
        (0, None, 0)
    );
}

#[test]
fn a_repeated_client_id_returns_the_original_in_its_room() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = open(&dir.path().join("chat.db"));
    store
        .append(&[new("lobby", "a", "x", "first")])
        .expect("append");
    let outcome = store
        .append(&[
            new("lobby", "a", "x", "first"),
            new("lobby", "b", "x", "other user"),
            new("rust", "a", "x", "other room"),
            new("lobby", "a", "x", "new words"),
        ])
        .expect("append");
    // Other words under the same clientId: a new message, refused.
    assert_eq!(outcome[3], Appended::Refused(Refusal::ClientIdReused));
    let Appended::Duplicate(original) = &outcome[0] else {
        panic!("expected a duplicate, got {outcome:?}")
    };
    assert_eq!(
        (original.message.id, original.message.msg.as_str()),
        (1, "first")
    );
    assert_eq!(seq(&outcome[1]), Ok(2));
    assert_eq!(seq(&outcome[2]), Ok(1));
    // Within one batch too.
    let outcome = store
        .append(&[new("lobby", "c", "y", "one"), new("lobby", "c", "y", "one")])
        .expect("append");
    assert!(matches!(&outcome[1], Appended::Duplicate(p) if p.message.id == 3));
    // From another browser: not a resend.
    let mut elsewhere = new("lobby", "c", "y", "one");
    if let NewEvent::Post(message) = &mut elsewhere.event {
        message.author.key = Some("another browser".into());
    }
    let outcome = store.append(&[elsewhere]).expect("append");
    assert_eq!(outcome[0], Appended::Refused(Refusal::ClientIdReused));
}

#[test]
fn pages_are_exact_and_do_not_overlap() {
    let mut store = open(Path::new(":memory:"));
    let batch: Vec<Stamped> = (0..25)
        .map(|i| new("lobby", "a", &i.to_string(), "m"))
        .collect();
    store.append(&batch).expect("append");
    store
        .append(&[new("other", "a", "o", "m")])
        .expect("append");
    let (page, more) = store.before("lobby", 26, 10).expect("page");
    assert_eq!(ids(&page), (16..=25).collect::<Vec<_>>());
    assert!(more);
    let (page, more) = store.before("lobby", 16, 10).expect("page");
    assert_eq!(ids(&page), (6..=15).collect::<Vec<_>>());
    assert!(more);
    let (page, more) = store.before("lobby", 6, 10).expect("page");
    assert_eq!(ids(&page), [1, 2, 3, 4, 5]);
    assert!(!more);
    let (page, more) = store.before("lobby", 1, 10).expect("page");
    assert!(page.is_empty() && !more);
    let (page, more) = store.before("lobby", 16, 15).expect("page");
    assert_eq!(ids(&page), (1..=15).collect::<Vec<_>>());
    assert!(!more);
    let (page, more) = store.before("nowhere", 16, 15).expect("page");
    assert!(page.is_empty() && !more);
}

#[test]
fn the_most_active_rooms_come_first() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("chat.db");
    let mut store = open(&path);
    let at = |stamped: Stamped, at| Stamped { at, ..stamped };
    store
        .append(&[
            at(new("old", "a", "1", "m"), 10),
            at(new("new", "a", "1", "m"), 30),
            at(new("middle", "a", "1", "m"), 20),
        ])
        .expect("append");
    let reader = store.reader(&path).expect("reader").expect("a file");
    let rooms: Vec<(String, i64)> = reader
        .most_active(2)
        .expect("rooms")
        .into_iter()
        .map(|activity| (activity.room, activity.last_message_at))
        .collect();
    assert_eq!(rooms, [("new".into(), 30), ("middle".into(), 20)]);
}

#[test]
fn an_unopenable_path_is_a_clear_error() {
    let error = Store::open(Path::new("/nonexistent/dir/chat.db"), "lobby")
        .err()
        .expect("cannot open");
    assert!(
        error.to_string().contains("/nonexistent/dir/chat.db"),
        "{error}"
    );
}

#[test]
fn edits_deletions_and_reactions_are_events_with_the_room_s_next_seq() {
    let mut store = open(Path::new(":memory:"));
    store
        .append(&[
            new("lobby", "amy", "1", "first"),
            new("lobby", "bob", "1", "second"),
        ])
        .expect("append");
    let outcome = store
        .append(&[
            change("lobby", "amy", 1, edit("first, edited")),
            change("lobby", "bob", 1, react("👍", true)),
            change("lobby", "amy", 1, react("👍", true)),
            change("lobby", "bob", 2, Change::Delete),
        ])
        .expect("append");
    let seqs: Vec<_> = outcome.iter().map(seq).collect();
    assert_eq!(seqs, [Ok(3), Ok(4), Ok(5), Ok(6)]);
    let window = store.window("lobby", 10).expect("window");
    assert_eq!(window.last_seq, 6);
    let [first, second] = &window.recent[..] else {
        panic!("two messages: {:?}", window.recent)
    };
    assert_eq!(first.message.msg, "first, edited");
    assert_eq!(first.message.edited_at, Some(1_764_100_000_500));
    assert_eq!(first.message.reactions[0].users, ["bob", "amy"]);
    assert_eq!(first.message.reactions[0].count, 2);
    assert!(second.message.deleted && second.message.msg.is_empty());
    let change_seqs: Vec<u64> = window.changes.iter().map(Event::seq).collect();
    assert_eq!(change_seqs, [3, 4, 5, 6]);
    assert_eq!(window.held_from, 0, "the whole log fits");
}

#[test]
fn only_the_author_s_browser_edits_or_deletes_and_everything_is_idempotent() {
    let mut store = open(Path::new(":memory:"));
    store
        .append(&[new("lobby", "amy", "1", "mine")])
        .expect("append");
    let mut impostor = change("lobby", "amy", 1, edit("not mine"));
    if let NewEvent::Change(change) = &mut impostor.event {
        change.author.key = Some("another browser".into());
    }
    let mut tokenless = change("lobby", "amy", 1, Change::Delete);
    if let NewEvent::Change(change) = &mut tokenless.event {
        change.author.key = None;
    }
    let outcome = store
        .append(&[
            impostor,
            tokenless,
            change("lobby", "bob", 1, Change::Delete),
            change("lobby", "AMY", 1, edit("mine")),
            change("lobby", "amy", 9, edit("x")),
            change("nowhere", "amy", 1, edit("x")),
            change("lobby", "bob", 1, react("👍", false)),
            change("lobby", "amy", 1, Change::Delete),
            change("lobby", "amy", 1, Change::Delete),
            change("lobby", "amy", 1, edit("too late")),
            change("lobby", "bob", 1, react("👍", true)),
            change("lobby", "bob", 1, Change::Delete),
        ])
        .expect("append");
    let refused = |refusal| Err(Box::new(Appended::Refused(refusal)));
    let seqs: Vec<_> = outcome.iter().map(seq).collect();
    assert_eq!(
        seqs,
        [
            refused(Refusal::NotYours),
            refused(Refusal::NotYours),
            refused(Refusal::NotYours),
            Err(Box::new(Appended::Unchanged)),
            refused(Refusal::NotFound),
            refused(Refusal::NotFound),
            Err(Box::new(Appended::Unchanged)),
            Ok(2),
            Err(Box::new(Appended::Unchanged)),
            refused(Refusal::Deleted),
            refused(Refusal::Deleted),
            refused(Refusal::NotYours),
        ]
    );
}

#[test]
fn a_message_has_at_most_twenty_different_reactions() {
    let mut store = open(Path::new(":memory:"));
    store
        .append(&[new("lobby", "amy", "1", "m")])
        .expect("append");
    let emoji: Vec<String> = ('\u{1F600}'..)
        .take(protocol::REACTIONS_MAX + 1)
        .map(String::from)
        .collect();
    let batch: Vec<Stamped> = emoji
        .iter()
        .map(|emoji| change("lobby", "bob", 1, react(emoji, true)))
        .collect();
    let outcome = store.append(&batch).expect("append");
    assert!(outcome[..protocol::REACTIONS_MAX]
        .iter()
        .all(|o| seq(o).is_ok()));
    assert_eq!(
        outcome[protocol::REACTIONS_MAX],
        Appended::Refused(Refusal::TooManyReactions)
    );
    // One more person on a given emoji is not a new emoji.
    let more = store
        .append(&[change("lobby", "cat", 1, react(&emoji[0], true))])
        .expect("append");
    assert!(seq(&more[0]).is_ok());
}

#[test]
fn a_reply_quotes_its_original_until_the_original_is_deleted() {
    let mut store = open(Path::new(":memory:"));
    store
        .append(&[new("lobby", "amy", "1", "the question\nin detail")])
        .expect("append");
    let mut reply = new("lobby", "bob", "1", "the answer");
    let mut to_nothing = new("lobby", "bob", "2", "the answer");
    for (event, to) in [(&mut reply, 1), (&mut to_nothing, 7)] {
        if let NewEvent::Post(message) = &mut event.event {
            message.reply_to = Some(to);
        }
    }
    let outcome = store.append(&[reply, to_nothing]).expect("append");
    let Appended::Stored(Event::Posted(posted)) = &outcome[0] else {
        panic!("stored: {outcome:?}")
    };
    let quote = posted.message.reply_to.as_ref().expect("a quote");
    assert_eq!(
        (
            quote.id,
            quote.user.as_str(),
            quote.excerpt.as_str(),
            quote.deleted
        ),
        (1, "amy", "the question…", false)
    );
    assert_eq!(outcome[1], Appended::Refused(Refusal::NotFound));
    store
        .append(&[change("lobby", "amy", 1, Change::Delete)])
        .expect("append");
    let (page, _) = store.before("lobby", 10, 10).expect("page");
    let quote = page[1].message.reply_to.as_ref().expect("a quote");
    assert!(quote.deleted && quote.excerpt.is_empty());
    let mut again = new("lobby", "bob", "3", "and again");
    if let NewEvent::Post(message) = &mut again.event {
        message.reply_to = Some(1);
    }
    let outcome = store.append(&[again]).expect("append");
    assert_eq!(outcome[0], Appended::Refused(Refusal::Deleted));
}

#[test]
fn a_deleted_text_is_in_neither_the_file_nor_its_wal() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("chat.db");
    let mut store = open(&path);
    let secret = "my secret: 7f3a9c2e-correct-horse";
    let edited = "an edit of it: 1b4d8e6f-battery-staple";
    store
        .append(&[
            new("lobby", "amy", "1", secret),
            new("lobby", "amy", "2", "kept"),
        ])
        .expect("append");
    store
        .append(&[change("lobby", "amy", 1, edit(edited))])
        .expect("append");
    let contains = |needle: &str| {
        ["chat.db", "chat.db-wal"].iter().any(|file| {
            std::fs::read(dir.path().join(file))
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        })
    };
    assert!(contains(secret) && contains(edited), "written at first");
    store
        .append(&[change("lobby", "amy", 1, Change::Delete)])
        .expect("append");
    assert!(!contains(secret), "the text is gone");
    assert!(!contains(edited), "and its edit's");
    assert!(contains("kept"));
    let window = store.window("lobby", 10).expect("window");
    assert!(
        window
            .changes
            .iter()
            .all(|change| !matches!(change, Event::Edited(_))),
        "a deleted message's edits are not replayed"
    );
}

#[test]
fn the_window_says_from_which_seq_it_holds_every_event() {
    let mut store = open(Path::new(":memory:"));
    let posts: Vec<Stamped> = (0..5)
        .map(|i| new("lobby", "amy", &i.to_string(), "m"))
        .collect();
    store.append(&posts).expect("append");
    let reactions: Vec<Stamped> = ["👍", "🎉", "🚀"]
        .iter()
        .map(|emoji| change("lobby", "bob", 5, react(emoji, true)))
        .collect();
    store.append(&reactions).expect("append");
    let window = store.window("lobby", 4).expect("window");
    assert_eq!(window.held_from, 5, "the newest four events are 5..=8");
    assert_eq!(window.recent.len(), 4);
    assert_eq!(window.changes.len(), 3);
    assert_eq!(window.first_id, Some(1));
}

#[test]
fn a_reader_in_the_way_only_delays_the_wipe_to_the_next_commit() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("chat.db");
    let mut store = open(&path);
    let secret = "held up by a reader: 3c9e1a77";
    store
        .append(&[new("lobby", "amy", "1", secret)])
        .expect("append");
    let wal = || std::fs::read(dir.path().join("chat.db-wal")).unwrap_or_default();
    let in_wal = || wal().windows(secret.len()).any(|w| w == secret.as_bytes());
    assert!(in_wal());
    // A page of history being read: a read transaction on the WAL.
    let reader = rusqlite::Connection::open(&path).expect("a reader");
    reader.execute_batch("BEGIN").expect("begin");
    let _: i64 = reader
        .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
        .expect("read");
    store
        .append(&[change("lobby", "amy", 1, Change::Delete)])
        .expect("append");
    assert!(in_wal(), "the reader holds the old pages");
    reader.execute_batch("COMMIT").expect("end the read");
    store
        .append(&[new("lobby", "amy", "2", "next")])
        .expect("append");
    assert!(!in_wal(), "wiped at the next commit");
}

/// One event about an id no row can have is refused alone: the batch's
/// other events, someone else's post among them, are stored.
#[test]
fn an_id_past_the_largest_fails_nothing_else_in_its_batch() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = open(&dir.path().join("chat.db"));
    store
        .append(&[new("lobby", "amy", "1", "hello")])
        .expect("append");
    let mut reply = new("lobby", "eve", "2", "to nothing");
    if let NewEvent::Post(message) = &mut reply.event {
        message.reply_to = Some(1 << 63);
    }
    let batch = [
        change("lobby", "eve", u64::MAX, edit("x")),
        change("lobby", "eve", 1 << 63, Change::Delete),
        change("lobby", "eve", 1 << 63, react("👍", true)),
        change("lobby", "eve", u64::MAX, Change::Remove),
        reply,
        new("lobby", "bob", "1", "still here"),
    ];
    let outcome = store.append(&batch).expect("the batch commits");
    for refused in &outcome[..5] {
        assert_eq!(*refused, Appended::Refused(Refusal::NotFound));
    }
    assert_eq!(seq(&outcome[5]), Ok(2), "bob's post is stored");
}

/// The ids a search for `q` finds in `rooms`, newest first, and the
/// cursor of the next page.
fn search(
    reader: &HistoryReader,
    q: &str,
    rooms: &[&str],
    before: Option<u64>,
    limit: usize,
) -> (Vec<(String, u64)>, Option<u64>) {
    let query = protocol::Query::parse(q).expect("a query");
    let rooms: Vec<String> = rooms.iter().map(|room| (*room).to_owned()).collect();
    let (hits, next) = reader
        .search(&query, &rooms, before, limit)
        .expect("search");
    for hit in &hits {
        assert!(!hit.marks.is_empty() || query.terms.is_empty(), "{hit:?}");
    }
    (
        hits.into_iter().map(|hit| (hit.room, hit.id)).collect(),
        next,
    )
}

#[test]
fn search_finds_words_in_any_language_and_follows_edits_and_deletions() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("chat.db");
    let mut store = open(&path);
    store
        .append(&[
            new("lobby", "amy", "1", "We deploy on Friday"),
            new("lobby", "bob", "2", "Le café est fermé"),
            new("lobby", "amy", "3", "你好世界"),
            new("lobby", "bob", "4", "世界和平"),
            new("rust", "amy", "1", "deployment went fine in 世界"),
        ])
        .expect("append");
    let reader = store.reader(&path).expect("a reader").expect("a file");
    let found =
        |q: &str, rooms: &[&str]| -> Vec<(String, u64)> { search(&reader, q, rooms, None, 50).0 };
    let lobby = |ids: &[u64]| -> Vec<(String, u64)> {
        ids.iter().map(|id| ("lobby".to_owned(), *id)).collect()
    };
    assert_eq!(found("friday DEPLOY", &["lobby"]), lobby(&[1]));
    assert_eq!(found("cafe FERME", &["lobby"]), lobby(&[2]), "accents");
    assert_eq!(found("世界", &["lobby"]), lobby(&[4, 3]), "two characters");
    assert_eq!(found("界", &["lobby"]), lobby(&[4, 3]), "one character");
    assert_eq!(found("你好世", &["lobby"]), lobby(&[3]), "three characters");
    assert_eq!(
        found("好和", &["lobby"]),
        lobby(&[]),
        "not next to each other"
    );
    assert_eq!(found("\"deploy on\"", &["lobby"]), lobby(&[1]), "a phrase");
    assert_eq!(found("\"on deploy\"", &["lobby"]), lobby(&[]));
    assert_eq!(found("deploy*", &["lobby", "rust"]).len(), 2, "a prefix");
    assert_eq!(
        found("from:BOB", &["lobby"]),
        lobby(&[4, 2]),
        "a name, any case"
    );
    assert_eq!(
        found("世界 from:amy", &["lobby", "rust"]),
        vec![("rust".to_owned(), 1), ("lobby".to_owned(), 3)]
    );
    assert_eq!(
        found("deploy", &["nowhere"]),
        lobby(&[]),
        "a room never made"
    );

    // An edit is found by its new words only; a deletion, never.
    store
        .append(&[
            change("lobby", "amy", 1, edit("We ship on Monday")),
            change("lobby", "bob", 4, Change::Delete),
        ])
        .expect("append");
    assert_eq!(found("friday", &["lobby"]), lobby(&[]));
    assert_eq!(found("monday", &["lobby"]), lobby(&[1]));
    assert_eq!(found("世界", &["lobby"]), lobby(&[3]));
    // The edited message keeps its place in time.
    store
        .append(&[new("lobby", "amy", "5", "ship it")])
        .expect("append");
    assert_eq!(found("ship", &["lobby"]), lobby(&[7, 1]));
}

#[test]
fn search_pages_newest_first_without_overlap() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("chat.db");
    let mut store = open(&path);
    let posts: Vec<Stamped> = (1..=25)
        .map(|n| new("lobby", "amy", &n.to_string(), &format!("note {n}")))
        .collect();
    store.append(&posts).expect("append");
    let reader = store.reader(&path).expect("a reader").expect("a file");
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let (page, next) = search(&reader, "note", &["lobby"], before, 10);
        seen.extend(page.into_iter().map(|(_, id)| id));
        match next {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
    }
    let expected: Vec<u64> = (1..=25).rev().collect();
    assert_eq!(seen, expected);
}

/// A database of every earlier release gets its index at the upgrade:
/// the first release's (schema 0, one room) and the moderation release's
/// (schema 6), each a copy of its fixture.
#[test]
fn the_messages_of_earlier_releases_are_found_after_the_upgrade() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().expect("tmp");
    let first = dir.path().join("first.db");
    std::fs::copy(fixtures.join("chat-2026-11-28.db"), &first).expect("copy");
    let store = open(&first);
    let reader = store.reader(&first).expect("a reader").expect("a file");
    let (hits, _) = search(&reader, "闲聊", &["lobby"], None, 50);
    let ids: Vec<u64> = hits.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        ids,
        [38, 33, 28, 23, 18, 13, 8, 3],
        "by the name in the text"
    );
    let (hits, _) = search(&reader, "hello from:Zoë", &["lobby"], None, 50);
    assert_eq!(hits.len(), 8, "{hits:?}");

    let moderated = dir.path().join("moderated.db");
    std::fs::copy(fixtures.join("chat-2026-12-07-moderation.db"), &moderated).expect("copy");
    let store = open(&moderated);
    let reader = store.reader(&moderated).expect("a reader").expect("a file");
    let (hits, _) = search(&reader, "lock", &["lobby"], None, 50);
    assert_eq!(
        hits.len(),
        1,
        "a message, not the moderators' actions: {hits:?}"
    );
}
