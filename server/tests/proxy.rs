//! Behind a real nginx (Debian's package), as the README deploys it:
//! every connection reaches the server from the proxy's address, and the
//! client's own is in `X-Forwarded-For`. Bans and budgets must see the
//! client's, or one ban (one budget) is everyone's.

mod support;

use std::net::{Ipv4Addr, SocketAddr};

use protocol::{ClientFrame, ModAction, ServerFrame};
use support::{
    let_in, session_cookie, sign_in, welcomed, ws_from, Client, Nginx, TestServer, ROOT_PASSWORD,
};

const BOB: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const CAROL: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A server trusting only nginx's address (127.0.0.1): the clients are
/// at other loopback addresses.
async fn behind_nginx(adjust: impl FnOnce(&mut server::Config)) -> (TestServer, Nginx) {
    let server = TestServer::start_with(|config| {
        config.behind_proxy = true;
        config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a range")];
        support::with_admin(config);
        adjust(config);
    })
    .await;
    let nginx = Nginx::start(server.addr).await;
    (server, nginx)
}

/// A guest through `via` from `source`: its first frame.
async fn guest(source: Ipv4Addr, via: SocketAddr, user: &str) -> (Client, ServerFrame) {
    let query = format!("user={user}&token={user}-browser");
    let mut client = ws_from(source, via, &query, &[]).await;
    let first = client.recv_any().await;
    (client, first)
}

#[tokio::test]
async fn behind_nginx_an_address_ban_is_the_client_s_not_everyone_s() {
    let (server, nginx) = behind_nginx(|_| {}).await;
    let via = nginx.addr;
    let root_cookie = session_cookie(&sign_in(via, "root", Some(ROOT_PASSWORD)).await);
    let member_cookie = support::claim(via, "member", "long enough").await;
    let headers = |cookie: &str| [("cookie", format!("chat_session={cookie}"))];
    let mut root = ws_from(CAROL, via, "", &headers(&root_cookie)).await;
    welcomed(&mut root).await;
    let (mut bob, first) = guest(BOB, via, "bob").await;
    assert!(let_in(&first));

    root.send_frame(ClientFrame::Moderate {
        room: None,
        action: ModAction::BanAddress,
        target: Some("bob".into()),
        id: None,
        duration_s: Some(600),
        reason: None,
        all_rooms: false,
    })
    .await;
    let close = bob.recv_close().await.expect("bob is put out");
    assert_eq!(u16::from(close.code), protocol::CLOSE_PUT_OUT);
    // Guests from bob's address are refused, through the proxy ...
    support::until("bob's address refuses guests", || async {
        !let_in(&guest(BOB, via, "frank").await.1)
    })
    .await;
    // ... and straight to the server too, whatever header they write: only
    // the trusted proxy's is believed.
    let spoofed = [("x-forwarded-for", "127.0.0.9".to_owned())];
    let mut direct = ws_from(BOB, server.addr, "user=grace&token=g", &spoofed).await;
    assert!(!let_in(&direct.recv_any().await));
    // Everyone else behind the same proxy comes in: another address's
    // guest, and a member at bob's address.
    assert!(let_in(&guest(CAROL, via, "carol").await.1));
    let mut member = ws_from(BOB, via, "", &headers(&member_cookie)).await;
    assert_eq!(welcomed(&mut member).await, ("member".to_owned(), true));
    // The admin too: from bob's address.
    let mut root_again = ws_from(BOB, via, "", &headers(&root_cookie)).await;
    assert_eq!(welcomed(&mut root_again).await, ("root".to_owned(), true));
    server.stop().await;
}

/// The budgets of an address are the client's, behind the proxy: one
/// address joining too often is refused; another is not.
#[tokio::test]
async fn behind_nginx_budgets_are_per_client_address() {
    let (server, nginx) = behind_nginx(|config| {
        config.join_rate_limit = 0.01;
        config.join_rate_burst = 3;
    })
    .await;
    let via = nginx.addr;
    let mut refused = false;
    for n in 0..4 {
        let query = format!("user=b{n}&token=b{n}");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from((BOB, 0)))
            .expect("bind a loopback address");
        let stream = socket.connect(via).await.expect("tcp connect");
        let url = format!("ws://{via}/ws?{query}");
        match tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
        {
            Ok(_) => {}
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 429);
                refused = true;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert!(refused, "the fourth join from one address within the burst");
    let (_carol, first) = guest(CAROL, via, "carol").await;
    assert!(let_in(&first), "another address has its own budget");
    server.stop().await;
}

/// The browser's token once rode in the WebSocket's URL, which proxies
/// log. The web client offers it as a subprotocol instead: it holds the
/// name (a second connection of the same browser shares it, another is
/// refused), the server answers with a subprotocol offered (the chat's
/// when offered), and nginx's access log never sees the token.
#[tokio::test]
async fn behind_nginx_the_browser_token_stays_out_of_the_logs() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let (server, nginx) = behind_nginx(|_| {}).await;
    let token = "5ec7e7b7095e3f2c0aa1b0c1d2e3f405";
    let alone = format!("{}{token}", protocol::WS_TOKEN_PREFIX);
    let offered = format!("{}, {alone}", protocol::WS_PROTOCOL);
    let connect = |offered: Option<String>| {
        let addr = nginx.addr;
        async move {
            let mut request = format!("ws://{addr}/ws?user=tess")
                .into_client_request()
                .expect("a request");
            if let Some(offered) = offered {
                request.headers_mut().insert(
                    "sec-websocket-protocol",
                    offered.parse().expect("a header value"),
                );
            }
            tokio_tungstenite::connect_async(request)
                .await
                .expect("connects")
        }
    };
    let chosen = |response: &tokio_tungstenite::tungstenite::handshake::client::Response| {
        (response.headers().get("sec-websocket-protocol"))
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    // As the web client offers it: alone.
    let (ws, response) = connect(Some(alone.clone())).await;
    assert_eq!(chosen(&response), Some(alone));
    let mut first = Client { ws };
    assert_eq!(welcomed(&mut first).await, ("tess".to_owned(), false));
    // The same browser shares its name; a client without the token does not.
    let (ws, response) = connect(Some(offered)).await;
    assert_eq!(chosen(&response).as_deref(), Some(protocol::WS_PROTOCOL));
    let mut second = Client { ws };
    assert_eq!(welcomed(&mut second).await, ("tess".to_owned(), false));
    let (ws, _) = connect(None).await;
    let mut stranger = Client { ws };
    match stranger.recv_any().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, protocol::ErrorCode::UsernameTaken),
        other => panic!("expected the name refused, got {other:?}"),
    }
    drop((first, second, stranger));
    support::until("nginx logs the WebSockets", || async {
        nginx.access_log().matches("/ws?user=tess").count() >= 3
    })
    .await;
    let log = nginx.access_log();
    assert!(!log.contains(token), "{log}");
    server.stop().await;
}
