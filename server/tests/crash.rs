//! `kill -9` mid-stream: the server binary as a child process, killed while
//! two clients chat, restarted on the same database. Nothing acknowledged is
//! lost or duplicated, and everyone ends with the same history.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{ClientFrame, Posted, ServerFrame};
use support::{connect, join, start_binary, PATIENCE};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

const EACH: usize = 60;
/// Kill the server once alice has seen this many messages: mid-stream.
const KILL_AFTER: usize = 40;
const SEND_INTERVAL: Duration = Duration::from_millis(5);

/// What one client has seen: every message by id, and which of its own
/// sends the server acknowledged (echoed back).
#[derive(Default)]
struct View {
    messages: BTreeMap<u64, Posted>,
    acked: HashMap<String, u64>,
}

impl View {
    fn add(&mut self, user: &str, posted: Posted) {
        if posted.message.user == user {
            self.acked
                .insert(posted.client_id.clone(), posted.message.id);
        }
        if let Some(earlier) = self.messages.insert(posted.message.id, posted.clone()) {
            assert_eq!(earlier, posted, "one id, two different messages");
        }
    }

    fn newest(&self) -> Option<u64> {
        self.messages.keys().next_back().copied()
    }
}

/// Connects (resuming after the newest message `view` has), sends all of
/// `user`'s messages not yet acknowledged, and reads until the view holds
/// everything or the connection drops (the server was killed). Signals
/// `kill_at` once the view holds [`KILL_AFTER`] messages. Returns whether
/// the view is complete.
async fn chat(
    addr: SocketAddr,
    user: &str,
    view: &mut View,
    kill_at: Option<&watch::Sender<bool>>,
) -> bool {
    let after = view.newest();
    let (client, history) = join(addr, user, after).await;
    if after.is_some() {
        assert!(!history.reset, "a resume within the replay limit");
    }
    for posted in history.messages {
        view.add(user, posted);
    }
    let (mut sink, mut stream) = client.ws.split();
    let unacked: Vec<String> = (0..EACH)
        .map(|n| format!("{user}-{n}"))
        .filter(|id| !view.acked.contains_key(id))
        .collect();
    let sending = async {
        for client_id in &unacked {
            let frame = ClientFrame::Send {
                client_id: client_id.clone(),
                msg: format!("{client_id} says hi"),
                room: None,
                reply_to: None,
            };
            if sink.send(Message::text(frame.to_json())).await.is_err() {
                break;
            }
            // A steady stream, so the kill lands in the middle of it.
            tokio::time::sleep(SEND_INTERVAL).await;
        }
        // Keep the sink (and so the connection) open until reading ends.
        std::future::pending::<()>().await;
    };
    let reading = async {
        // Until every message of both users is here, own ones acknowledged.
        while view.acked.len() < EACH || view.messages.len() < 2 * EACH {
            let Ok(Some(Ok(message))) = tokio::time::timeout(PATIENCE, stream.next()).await else {
                return false;
            };
            let Message::Text(text) = message else {
                continue;
            };
            if let Ok(ServerFrame::Message { posted, .. }) = ServerFrame::parse(&text) {
                view.add(user, posted);
                if let Some(kill) = kill_at {
                    if view.messages.len() == KILL_AFTER {
                        let _ = kill.send(true);
                    }
                }
            }
        }
        true
    };
    tokio::select! {
        done = reading => done,
        () = sending => unreachable!("sending never ends by itself"),
    }
}

#[tokio::test]
async fn nothing_acknowledged_is_lost_when_the_server_is_killed() {
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    let (mut server, addr) = start_binary(&db, &[]).await;

    let (kill, mut killed) = watch::channel(false);
    let mut alice = View::default();
    let mut bob = View::default();
    let killer = async {
        let _ = killed.wait_for(|k| *k).await;
        server.kill().await.expect("kill -9 the server");
    };
    let (alice_done, bob_done, ()) = tokio::join!(
        chat(addr, "alice", &mut alice, Some(&kill)),
        chat(addr, "bob", &mut bob, None),
        killer,
    );
    assert!(
        !(alice_done && bob_done),
        "the kill came after everything was acknowledged: nothing was tested"
    );
    let acked_before_kill: HashMap<String, u64> = alice
        .acked
        .iter()
        .chain(&bob.acked)
        .map(|(id, n)| (id.clone(), *n))
        .collect();
    assert!(!acked_before_kill.is_empty());

    let (_server, addr) = start_binary(&db, &[]).await;
    let (alice_done, bob_done) = tokio::join!(
        chat(addr, "alice", &mut alice, None),
        chat(addr, "bob", &mut bob, None),
    );
    assert!(
        alice_done && bob_done,
        "everything acknowledged after restart"
    );

    let (_, fresh) = join(addr, "carol", None).await;
    let fresh: BTreeMap<u64, Posted> = fresh
        .messages
        .into_iter()
        .map(|p| (p.message.id, p))
        .collect();

    // Every message exactly once: all 2 × EACH client ids, ids 1..=N with no
    // gap, the same view for everyone.
    let total = (2 * EACH) as u64;
    assert_eq!(
        fresh.keys().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let mut client_ids: Vec<(&str, &str)> = fresh
        .values()
        .map(|p| (p.message.user.as_str(), p.client_id.as_str()))
        .collect();
    client_ids.sort_unstable();
    client_ids.dedup();
    assert_eq!(client_ids.len(), 2 * EACH, "no message stored twice");
    assert!(
        alice.messages == fresh,
        "alice's view differs from the stored history"
    );
    assert!(
        bob.messages == fresh,
        "bob's view differs from the stored history"
    );
    // What was acknowledged before the kill kept its id.
    for (client_id, id) in acked_before_kill {
        assert_eq!(fresh[&id].client_id, client_id);
    }
    // A fresh connection reaches the same room.
    drop(connect(addr, "dave", None).await);
}
