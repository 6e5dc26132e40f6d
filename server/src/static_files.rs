//! The built web client: the files of one directory, deep links answered
//! with its `index.html`, and the headers that keep a page safe and fresh.
//!
//! - Only files inside the directory: one that a symbolic link resolves to
//!   outside it (`dist/etc -> /etc`) is not found.
//! - `Content-Security-Policy`: scripts, styles and connections from this
//!   server only, WebAssembly allowed, no framing. trunk starts the client
//!   with an inline module script, which the policy admits by its hash,
//!   computed from the `index.html` being served.
//! - `Cache-Control`: the shell (`index.html`) is never cached, since it
//!   names the current assets; the assets themselves carry a content hash
//!   in their names (`client-0123456789abcdef.js`) and are cached for good.
//! - `Content-Encoding`: brotli or gzip made at build time, when the
//!   browser takes it (see `precompressed`); `Vary: Accept-Encoding`.

use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use warp::filters::BoxedFilter;
use warp::http::header::{
    HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use warp::http::StatusCode;
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::precompressed::Precompressed;

/// Shown at `/` when there is no built client to serve.
const MISSING_CLIENT_HINT: &str = "The web client is not built.\n\n\
Build it with `trunk build --release` (it writes dist/), or run `cargo xtask run`,\n\
or develop with `trunk serve` and open http://127.0.0.1:8080.\n\
The WebSocket endpoint /ws and /healthz work without it.\n";

const NO_CACHE: &str = "no-cache";
const FOREVER: &str = "public, max-age=31536000, immutable";

/// The built client from `dir`. Any path without a file extension that is
/// not a file (a deep link such as `/login`) gets `index.html`, so the
/// client's router takes over; a missing asset stays a 404.
pub(crate) fn static_files(dir: &Path) -> BoxedFilter<(Response,)> {
    let index = dir.join("index.html");
    let root = match (index.is_file(), dir.canonicalize()) {
        (true, Ok(root)) => Arc::new(root),
        _ => {
            tracing::warn!(
                dir = %dir.display(),
                "no built web client here: / answers with a hint; /ws and /healthz work"
            );
            return warp::get()
                .map(|| {
                    warp::reply::with_status(MISSING_CLIENT_HINT, StatusCode::SERVICE_UNAVAILABLE)
                        .into_response()
                })
                .boxed();
        }
    };
    let precompressed = Arc::new(Precompressed::load(&root));
    let encoded = {
        let precompressed = Arc::clone(&precompressed);
        warp::get()
            .and(warp::path::full())
            .and(warp::header::optional::<String>("accept-encoding"))
            .and(warp::header::optional::<String>("if-none-match"))
            .and_then(
                move |path: FullPath, accept: Option<String>, tag: Option<String>| {
                    let precompressed = Arc::clone(&precompressed);
                    async move {
                        let asset = match path.as_str() {
                            "/" => "/index.html",
                            path => path,
                        };
                        let cache = cache_control(Path::new(asset));
                        precompressed
                            .answer(asset, accept.as_deref(), tag.as_deref(), cache)
                            .ok_or_else(warp::reject::not_found)
                    }
                },
            )
    };
    let files = warp::fs::dir(dir.to_path_buf())
        .and_then(move |file: warp::fs::File| {
            let root = Arc::clone(&root);
            async move { inside(&root, file).await }
        })
        .map(|file: warp::fs::File| {
            let cache = cache_control(file.path());
            let mut response = warp::reply::with_header(file, CACHE_CONTROL, cache).into_response();
            (response.headers_mut()).insert(VARY, HeaderValue::from_static("accept-encoding"));
            response
        });
    let deep_link = warp::get()
        .and(warp::path::full())
        .and_then(|path: FullPath| async move {
            let last = path.as_str().rsplit('/').next().unwrap_or_default();
            if last.contains('.') {
                Err(warp::reject::not_found())
            } else {
                Ok::<_, Rejection>(())
            }
        })
        .untuple_one()
        .and(warp::header::optional::<String>("accept-encoding"))
        .and(warp::header::optional::<String>("if-none-match"))
        .and(warp::fs::file(index))
        .map(
            move |accept: Option<String>, tag: Option<String>, file: warp::fs::File| {
                let shell = precompressed.answer(
                    "/index.html",
                    accept.as_deref(),
                    tag.as_deref(),
                    NO_CACHE,
                );
                shell.unwrap_or_else(|| {
                    let mut response =
                        warp::reply::with_header(file, CACHE_CONTROL, NO_CACHE).into_response();
                    (response.headers_mut())
                        .insert(VARY, HeaderValue::from_static("accept-encoding"));
                    response
                })
            },
        );
    encoded.or(files).unify().or(deep_link).unify().boxed()
}

/// Hashed assets are kept for good; anything else is asked for again.
fn cache_control(path: &Path) -> &'static str {
    if is_hashed_asset(path) {
        FOREVER
    } else {
        NO_CACHE
    }
}

/// `file` if it really lies inside `root` once every link is followed.
async fn inside(root: &Path, file: warp::fs::File) -> Result<warp::fs::File, Rejection> {
    match tokio::fs::canonicalize(file.path()).await {
        Ok(real) if real.starts_with(root) => Ok(file),
        Ok(real) => {
            tracing::warn!(
                requested = %file.path().display(),
                resolves_to = %real.display(),
                "refused a file outside the client's directory"
            );
            Err(warp::reject::not_found())
        }
        Err(_) => Err(warp::reject::not_found()),
    }
}

/// Whether the file's name carries trunk's content hash (a 64-bit number in
/// hex, without leading zeros): `client-30ed16bcc019ec0a.js`, and
/// `client-30ed16bcc019ec0a_bg.wasm` for the module.
fn is_hashed_asset(path: &Path) -> bool {
    let stem = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("");
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (12..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The headers every response carries: the content security policy for
/// the client in `dir`, no MIME sniffing, no referrer.
pub(crate) fn security_headers(dir: &Path) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let policy = content_security_policy(&inline_scripts(&dir.join("index.html")));
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers
}

/// The policy, admitting the inline scripts given by their contents.
fn content_security_policy(inline_scripts: &[String]) -> String {
    let hashes: String = inline_scripts
        .iter()
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(" 'sha256-{}'", STANDARD.encode(digest))
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The contents of the inline `<script>` elements of `index` (none when it
/// cannot be read).
fn inline_scripts(index: &Path) -> Vec<String> {
    let Ok(html) = std::fs::read_to_string(index) else {
        return Vec::new();
    };
    let mut scripts = Vec::new();
    let mut rest = html.as_str();
    while let Some(open) = rest.find("<script") {
        let Some(tag_end) = rest[open..].find('>') else {
            break;
        };
        let tag = &rest[open..open + tag_end];
        let body_start = open + tag_end + 1;
        let Some(close) = rest[body_start..].find("</script>") else {
            break;
        };
        if !tag.contains("src=") {
            scripts.push(rest[body_start..body_start + close].to_owned());
        }
        rest = &rest[body_start + close..];
    }
    scripts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_asset_names_are_recognised_by_their_hash() {
        assert!(is_hashed_asset(Path::new(
            "/d/client-30ed16bcc019ec0a_bg.wasm"
        )));
        assert!(is_hashed_asset(Path::new("/d/client-30ed16bcc019ec0a.js")));
        assert!(is_hashed_asset(Path::new("/d/style-4b5c1570cc2310f.css")));
        assert!(!is_hashed_asset(Path::new("/d/index.html")));
        assert!(!is_hashed_asset(Path::new("/d/my-notes.txt")));
    }

    #[test]
    fn inline_scripts_are_admitted_by_their_hash() {
        let dir = tempfile::tempdir().expect("dir");
        let index = dir.path().join("index.html");
        std::fs::write(
            &index,
            "<html><script src=\"/a.js\"></script><script type=\"module\">\nrun();\n</script></html>",
        )
        .expect("write");
        assert_eq!(inline_scripts(&index), vec!["\nrun();\n".to_owned()]);
        let policy = content_security_policy(&inline_scripts(&index));
        let hash = STANDARD.encode(Sha256::digest(b"\nrun();\n"));
        assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
    }
}
