//! The built web client (see `client_files`), deep links answered with
//! its `index.html`, and the headers that keep a page safe and fresh.
//!
//! - `Content-Security-Policy`: scripts, styles and connections from this
//!   server only, WebAssembly allowed, no framing. trunk starts the client
//!   with an inline module script, which the policy admits by its hash,
//!   computed from the `index.html` being served.
//! - `Cache-Control`: the shell (`index.html`) is never cached, since it
//!   names the current assets; the assets themselves carry a content hash
//!   in their names (`client-0123456789abcdef.js`) and are cached for good.
//! - `Content-Encoding`: brotli or gzip made at build time, when the
//!   browser takes it; `Vary: Accept-Encoding`.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use warp::filters::BoxedFilter;
use warp::http::header::{
    HeaderMap, HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use warp::http::StatusCode;
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::client_files::ClientFiles;

/// Shown at `/` when there is no built client to serve.
const MISSING_CLIENT_HINT: &str = "The web client is not built.\n\n\
Build it with `trunk build --release` (it writes dist/), or run `cargo xtask run`,\n\
or develop with `trunk serve` and open http://127.0.0.1:8080.\n\
The WebSocket endpoint /ws and /healthz work without it.\n";

const NO_CACHE: &str = "no-cache";
const FOREVER: &str = "public, max-age=31536000, immutable";

/// The client in `files`. Any path without a file extension that is not a
/// file (a deep link such as `/login`) gets `index.html`, so the client's
/// router takes over; a missing asset stays a 404.
pub(crate) fn static_files(files: Arc<ClientFiles>) -> BoxedFilter<(Response,)> {
    let get_or_head = warp::get().or(warp::head()).unify();
    if files.index_html().is_none() {
        tracing::warn!("no built web client: / answers with a hint; /ws and /healthz work");
        return get_or_head
            .map(|| {
                warp::reply::with_status(MISSING_CLIENT_HINT, StatusCode::SERVICE_UNAVAILABLE)
                    .into_response()
            })
            .boxed();
    }
    get_or_head
        .and(warp::path::full())
        .and(warp::header::optional::<String>("accept-encoding"))
        .and(warp::header::optional::<String>("if-none-match"))
        .and_then(
            move |path: FullPath, accept: Option<String>, tag: Option<String>| {
                let files = Arc::clone(&files);
                async move {
                    let path = match path.as_str() {
                        "/" => "/index.html",
                        path => path,
                    };
                    let (accept, tag) = (accept.as_deref(), tag.as_deref());
                    if let Some(file) = files.answer(path, accept, tag, cache_control(path)) {
                        return Ok(file);
                    }
                    let last = path.rsplit('/').next().unwrap_or_default();
                    match last.contains('.') {
                        true => None,
                        false => files.answer("/index.html", accept, tag, NO_CACHE),
                    }
                    .ok_or_else(warp::reject::not_found)
                }
            },
        )
        .boxed()
}

/// Hashed assets are kept for good; anything else is asked for again.
fn cache_control(path: &str) -> &'static str {
    if is_hashed_asset(path) {
        FOREVER
    } else {
        NO_CACHE
    }
}

/// Whether the file's name carries trunk's content hash (a 64-bit number in
/// hex, without leading zeros): `client-30ed16bcc019ec0a.js`, and
/// `client-30ed16bcc019ec0a_bg.wasm` for the module.
fn is_hashed_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (12..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// The headers every response carries: the content security policy for
/// the client in `files`, no MIME sniffing, no referrer.
pub(crate) fn security_headers(files: &ClientFiles) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let policy = content_security_policy(&inline_scripts(files.index_html().unwrap_or("")));
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

/// The contents of the inline `<script>` elements of the page `html`.
fn inline_scripts(html: &str) -> Vec<String> {
    let mut scripts = Vec::new();
    let mut rest = html;
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
        assert!(is_hashed_asset("/client-30ed16bcc019ec0a_bg.wasm"));
        assert!(is_hashed_asset("/client-30ed16bcc019ec0a.js"));
        assert!(is_hashed_asset("/style-4b5c1570cc2310f.css"));
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/my-notes.txt"));
    }

    #[test]
    fn inline_scripts_are_admitted_by_their_hash() {
        let index = "<html><script src=\"/a.js\"></script><script type=\"module\">\nrun();\n</script></html>";
        assert_eq!(inline_scripts(index), vec!["\nrun();\n".to_owned()]);
        let policy = content_security_policy(&inline_scripts(index));
        let hash = STANDARD.encode(Sha256::digest(b"\nrun();\n"));
        assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
    }
}
