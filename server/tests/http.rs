//! The HTTP side: health, the built client, deep links, a taken port.

mod support;

use std::process::Command;

use support::{http_request, refusal_to_start, TestServer};

#[tokio::test]
async fn health_reports_ok_and_connections() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["status"], "ok");
    let _alice = server.join("alice").await;
    assert_eq!(server.connections().await, 1);
    server.stop().await;
}

#[tokio::test]
async fn without_a_built_client_the_root_explains_how_to_build_it() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/").await;
    assert_eq!(status, 503);
    assert!(body.contains("trunk build"), "{body}");
    // The room itself still works.
    let mut alice = server.join("alice").await;
    alice.say("a", "hi").await;
    assert_eq!(alice.recv_message().await.message.msg, "hi");
    server.stop().await;
}

#[tokio::test]
async fn a_plain_get_on_ws_is_told_to_upgrade() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/ws?user=alice").await;
    assert_eq!(status, 426);
    assert!(body.contains("WebSocket"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn the_client_is_served_with_its_security_policy_and_cache_headers() {
    let dist = tempfile::tempdir().expect("temp dir");
    let script = "\nimport init from '/client-30ed16bcc019ec0a.js';\nawait init();\n";
    std::fs::write(
        dist.path().join("index.html"),
        format!("<!doctype html><title>chat</title><script type=\"module\">{script}</script>"),
    )
    .expect("write index");
    std::fs::write(
        dist.path().join("client-30ed16bcc019ec0a.js"),
        "export default 1",
    )
    .expect("js");
    let server =
        TestServer::start_with(|config| config.static_dir = Some(dist.path().to_path_buf())).await;

    let page = http_request(server.addr, "/").await;
    assert_eq!(page.status, 200);
    let policy = page.header("content-security-policy").expect("a CSP");
    let hash = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script))
    };
    assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
    for part in [
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "'wasm-unsafe-eval'",
    ] {
        assert!(policy.contains(part), "{part} in {policy}");
    }
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    for shell in ["/index.html", "/login"] {
        let page = http_request(server.addr, shell).await;
        assert_eq!(page.header("cache-control"), Some("no-cache"), "{shell}");
    }
    let asset = http_request(server.addr, "/client-30ed16bcc019ec0a.js").await;
    assert_eq!(asset.status, 200);
    assert_eq!(
        asset.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let health = http_request(server.addr, "/healthz").await;
    assert_eq!(health.header("x-content-type-options"), Some("nosniff"));
    // Answers about someone or about now are never cached.
    for path in ["/healthz", "/api/rooms", "/api/session", "/api/audit"] {
        let answer = http_request(server.addr, path).await;
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn links_out_of_the_client_directory_are_not_followed() {
    let dist = tempfile::tempdir().expect("temp dir");
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(dist.path().join("index.html"), "<title>chat</title>").expect("index");
    std::fs::write(outside.path().join("secret.txt"), "secret").expect("secret");
    std::fs::write(dist.path().join("inside.txt"), "fine").expect("inside");
    std::os::unix::fs::symlink(outside.path(), dist.path().join("sub")).expect("dir link");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dist.path().join("link.txt"),
    )
    .expect("file link");
    std::os::unix::fs::symlink(
        dist.path().join("inside.txt"),
        dist.path().join("alias.txt"),
    )
    .expect("inner link");
    let server =
        TestServer::start_with(|config| config.static_dir = Some(dist.path().to_path_buf())).await;
    for path in ["/sub/secret.txt", "/link.txt"] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(!body.contains("secret"), "{path}");
    }
    assert_eq!(server.get("/alias.txt").await, (200, "fine".to_owned()));
    server.stop().await;
}

#[tokio::test]
async fn the_built_client_is_served_with_deep_links_falling_back_to_index() {
    let dist = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>chat</title>",
    )
    .expect("write index");
    std::fs::write(dist.path().join("client-abc.js"), "console.log(1)").expect("write js");
    let server =
        TestServer::start_with(|config| config.static_dir = Some(dist.path().to_path_buf())).await;

    for path in ["/", "/login", "/chat", "/index.html"] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("<title>chat</title>"), "{path}: {body}");
    }
    assert_eq!(
        server.get("/client-abc.js").await,
        (200, "console.log(1)".into())
    );
    assert_eq!(server.get("/missing.js").await.0, 404);
    assert_eq!(server.get("/healthz").await.0, 200);
    server.stop().await;
}

#[test]
fn a_taken_port_is_a_clear_error_not_a_panic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let stderr = refusal_to_start(&["--bind".as_ref(), addr.to_string().as_ref()]);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn an_unopenable_database_is_a_clear_startup_error() {
    let stderr = refusal_to_start(&[
        "--bind".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--db".as_ref(),
        "/nonexistent/dir/chat.db".as_ref(),
    ]);
    assert!(
        stderr.contains("cannot open the database /nonexistent/dir/chat.db"),
        "{stderr}"
    );
}

/// Makes `file` unwritable, even for root (`chattr +i`; root ignores
/// permissions); undone on drop so the temporary directory can go.
struct ReadOnly<'a>(&'a std::path::Path);

impl<'a> ReadOnly<'a> {
    fn make(file: &'a std::path::Path) -> Self {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
        if root {
            let status = Command::new("chattr").arg("+i").arg(file).status();
            assert!(status.is_ok_and(|s| s.success()), "chattr +i");
        } else {
            let mut permissions = std::fs::metadata(file).expect("stat").permissions();
            permissions.set_readonly(true);
            std::fs::set_permissions(file, permissions).expect("chmod");
        }
        Self(file)
    }
}

impl Drop for ReadOnly<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

#[test]
fn a_database_that_can_only_be_read_is_refused_at_start() {
    let data = tempfile::tempdir().expect("temp dir");
    let db = data.path().join("chat.db");
    // An empty file is an empty SQLite database.
    std::fs::write(&db, b"").expect("create the database file");
    let _read_only = ReadOnly::make(&db);
    let stderr = refusal_to_start(&[
        "--bind".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    assert!(stderr.contains("can only be read"), "{stderr}");
}

/// The build writes brotli and gzip beside each asset (`cargo xtask
/// dist`): the server answers with the best one the browser takes, marked
/// so that caches keep them apart, and with the file itself otherwise.
#[tokio::test]
async fn assets_go_out_precompressed_as_the_browser_accepts() {
    let dist = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        std::fs::write(dist.path().join(name), text).expect("write");
    };
    write("index.html", "<!doctype html><title>chat</title>");
    write("index.html.br", "the shell in brotli");
    write("index.html.gz", "the shell in gzip");
    write("client-30ed16bcc019ec0a.js", "export default 1");
    write("client-30ed16bcc019ec0a.js.br", "the module in brotli");
    write("client-30ed16bcc019ec0a.js.gz", "the module in gzip");
    write("style-4b5c1570cc2310f.css", "body{}");
    let server =
        TestServer::start_with(|config| config.static_dir = Some(dist.path().to_path_buf())).await;
    let get = |path: &'static str, accept: Option<&'static str>| {
        let addr = server.addr;
        async move {
            let headers: Vec<(&str, &str)> = accept
                .map(|accept| vec![("Accept-Encoding", accept)])
                .unwrap_or_default();
            support::http_call(addr, "GET", path, &headers, None).await
        }
    };
    let js = "/client-30ed16bcc019ec0a.js";
    for (accept, encoding, body) in [
        (
            Some("gzip, deflate, br, zstd"),
            Some("br"),
            "the module in brotli",
        ),
        (Some("gzip, deflate"), Some("gzip"), "the module in gzip"),
        (
            Some("br;q=0, gzip;q=0.8"),
            Some("gzip"),
            "the module in gzip",
        ),
        (Some("identity"), None, "export default 1"),
        (None, None, "export default 1"),
    ] {
        let answer = get(js, accept).await;
        assert_eq!(answer.status, 200, "{accept:?}");
        assert_eq!(answer.header("content-encoding"), encoding, "{accept:?}");
        assert_eq!(answer.body, body, "{accept:?}");
        assert_eq!(answer.header("vary"), Some("accept-encoding"), "{accept:?}");
        assert!(
            answer
                .header("content-type")
                .is_some_and(|kind| kind.starts_with("text/javascript")),
            "{accept:?}: {:?}",
            answer.header("content-type")
        );
        assert_eq!(
            answer.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{accept:?}"
        );
        assert!(answer.header("content-security-policy").is_some());
    }
    // The shell, at / and at a deep link, compressed too and never cached.
    for path in ["/", "/login", "/r/rust"] {
        let shell = get(path, Some("br")).await;
        assert_eq!(shell.body, "the shell in brotli", "{path}");
        assert_eq!(shell.header("content-encoding"), Some("br"), "{path}");
        assert_eq!(shell.header("cache-control"), Some("no-cache"), "{path}");
        assert!(
            shell
                .header("content-type")
                .is_some_and(|kind| kind.starts_with("text/html")),
            "{path}"
        );
    }
    // A validator per variant: asked again, nothing is sent.
    let first = get(js, Some("br")).await;
    let etag = first.header("etag").expect("an ETag").to_owned();
    let again = support::http_call(
        server.addr,
        "GET",
        js,
        &[("Accept-Encoding", "br"), ("If-None-Match", &etag)],
        None,
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let gzip = get(js, Some("gzip")).await;
    assert_ne!(gzip.header("etag"), Some(etag.as_str()));
    // A file without variants goes out as it is.
    let css = get("/style-4b5c1570cc2310f.css", Some("br, gzip")).await;
    assert_eq!((css.status, css.body.as_str()), (200, "body{}"));
    assert_eq!(css.header("content-encoding"), None);
    // The variants are not files of their own to the router's fallback.
    let missing = get("/client-0000000000000000.js", Some("br")).await;
    assert_eq!(missing.status, 404);
    server.stop().await;
}
