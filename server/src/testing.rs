//! For tests of other crates (feature `testing`): what they need of the
//! server beyond [`crate::run`].

use std::path::Path;

use crate::events::{Author, NewEvent, NewMessage, Stamped};
use crate::store::{Store, StoreError};
use crate::StartError;

/// Fills `room` of the database at `db` (created if need be) with `count`
/// messages of `user`'s, `old message 1` to `old message {count}`, all
/// posted at `at` (ms since the epoch): a long history, written faster
/// than a client could post it.
pub fn seed_history(
    db: &Path,
    room: &str,
    user: &str,
    count: usize,
    at: i64,
) -> Result<(), StartError> {
    let mut store = Store::open(db, room)?;
    let batch: Vec<Stamped> = (1..=count)
        .map(|n| Stamped {
            event: NewEvent::Post(NewMessage {
                room: room.into(),
                author: Author {
                    user: user.into(),
                    key: None,
                    guest_keys: Vec::new(),
                    claimed: false,
                },
                msg: format!("old message {n}"),
                client_id: format!("seed-{n}"),
                reply_to: None,
                mentions: Vec::new(),
            }),
            at,
        })
        .collect();
    store.append(&batch)?;
    Ok(())
}

/// Fills `room` of the database at `db` with `count` messages a search
/// benchmark can ask things of, posted a millisecond apart from `at`: ten
/// authors (`user0`..`user9`), four in five of them English from a
/// vocabulary of 5,000 words in Zipf-like frequencies (`w1` the most
/// common; `deploy` one in 200 messages), one in five Chinese, 12 to 20
/// characters from 500 common ones (`世界` in about one in 60 of them).
/// The same messages every time. Written in batches of 20,000.
pub fn seed_corpus(db: &Path, room: &str, count: usize, at: i64) -> Result<(), StartError> {
    const HAN: &str = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持音众造千客影跑准房界世";
    let han: Vec<char> = HAN.chars().collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*: the same corpus on every run.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut store = Store::open(db, room)?;
    let mut n = 0;
    while n < count {
        let batch_end = (n + 20_000).min(count);
        let mut batch = Vec::with_capacity(batch_end - n);
        for i in n..batch_end {
            let msg = if next() % 5 == 0 {
                let len = 12 + (next() % 9) as usize;
                let mut text: String = (0..len)
                    .map(|_| han[(next() % han.len() as u64) as usize])
                    .collect();
                if next() % 60 == 0 {
                    text.push_str("世界");
                }
                text
            } else {
                let len = 5 + (next() % 12) as usize;
                let mut words: Vec<String> = (0..len)
                    .map(|_| {
                        // Zipf-like: the square of a uniform draw.
                        let u = (next() % 10_000) as f64 / 10_000.0;
                        format!("w{}", 1 + (u * u * 5_000.0) as u64)
                    })
                    .collect();
                if next() % 200 == 0 {
                    words.push("deploy".into());
                }
                words.join(" ")
            };
            batch.push(Stamped {
                event: NewEvent::Post(NewMessage {
                    room: room.into(),
                    author: Author {
                        user: format!("user{}", i % 10),
                        key: None,
                        guest_keys: Vec::new(),
                        claimed: false,
                    },
                    msg,
                    client_id: format!("corpus-{i}"),
                    reply_to: None,
                    mentions: Vec::new(),
                }),
                at: at + i as i64,
            });
        }
        store.append(&batch)?;
        n = batch_end;
    }
    Ok(())
}

/// The database file's pages in bytes: all of them, the search index's,
/// and the messages' (the `events` table), as SQLite's `dbstat` counts.
pub fn index_bytes(db: &Path) -> Result<(u64, u64, u64), StartError> {
    let conn = rusqlite::Connection::open(db).map_err(StoreError::from)?;
    let sum = |filter: &str| -> Result<u64, StartError> {
        let bytes: i64 = conn
            .query_row(
                &format!("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE {filter}"),
                [],
                |row| row.get(0),
            )
            .map_err(StoreError::from)?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    };
    Ok((
        sum("1")?,
        sum("name LIKE 'search%'")?,
        sum("name = 'events'")?,
    ))
}

/// Makes the database at `db` what a release before search left (schema
/// 7: no index), so that opening it builds the index again.
pub fn unindex(db: &Path) -> Result<(), StartError> {
    let conn = rusqlite::Connection::open(db).map_err(StoreError::from)?;
    conn.execute_batch(
        "DROP TABLE search; DROP TABLE IF EXISTS search_content; ALTER TABLE events DROP COLUMN searched; PRAGMA user_version = 7; VACUUM;",
    )
    .map_err(StoreError::from)?;
    Ok(())
}

/// Opens the database at `db` as the server does (migrating it).
pub fn open(db: &Path, room: &str) -> Result<(), StartError> {
    Store::open(db, room)?;
    Ok(())
}
