//! The web client's files compressed once, at build time: `cargo xtask
//! dist` writes `name.br` (brotli) and `name.gz` (gzip) beside each asset,
//! and the server answers with the smallest one the browser accepts
//! (`Accept-Encoding`), marked with `Content-Encoding` and `Vary`. The wasm
//! module is 450 KB raw and 150 KB in brotli: compressing it on every
//! request would cost the CPU what precompressing costs once.
//!
//! The variants are read into memory at start (a few hundred KB): the
//! directory is the build's, fixed while the server runs.

use std::collections::HashMap;
use std::path::Path;

use hyper::body::Bytes;
use sha2::{Digest, Sha256};
use warp::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, VARY};
use warp::http::StatusCode;
use warp::reply::Response;

/// A content coding the server keeps variants in, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    const BEST_FIRST: [Self; 2] = [Self::Brotli, Self::Gzip];

    /// Its name in `Accept-Encoding` and `Content-Encoding`.
    fn token(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Gzip => "gzip",
        }
    }

    /// The suffix of its file beside the asset.
    fn suffix(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Gzip => "gz",
        }
    }
}

/// Whether `accept_encoding` (the request's header) accepts `coding`: named
/// (or `*`) without `q=0`.
fn accepts(accept_encoding: &str, coding: Coding) -> bool {
    let mut named = None;
    let mut any = None;
    for entry in accept_encoding.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let quality = parts
            .filter_map(|parameter| parameter.strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding.token()) {
            named = Some(quality > 0.0);
        } else if name == "*" {
            any = Some(quality > 0.0);
        }
    }
    named.or(any).unwrap_or(false)
}

/// One asset's compressed variants.
struct Variants {
    content_type: &'static str,
    /// Best first; each with its strong validator.
    encoded: Vec<(Coding, Bytes, HeaderValue)>,
}

/// The precompressed assets of a client directory, by request path
/// (`/client-0123.js`).
#[derive(Default)]
pub(crate) struct Precompressed {
    assets: HashMap<String, Variants>,
}

impl Precompressed {
    /// Reads the variants beside the files directly in `root` (the
    /// canonical client directory): the build writes none deeper.
    pub(crate) fn load(root: &Path) -> Self {
        let mut assets = HashMap::new();
        let Ok(entries) = std::fs::read_dir(root) else {
            return Self::default();
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            let Some(content_type) = content_type(name) else {
                continue;
            };
            let encoded: Vec<_> = Coding::BEST_FIRST
                .into_iter()
                .filter_map(|coding| {
                    let variant = root.join(format!("{name}.{}", coding.suffix()));
                    // Only a file really in the directory (no link out of it).
                    let real = variant.canonicalize().ok()?;
                    if real.parent() != Some(root) {
                        return None;
                    }
                    let bytes = Bytes::from(std::fs::read(&real).ok()?);
                    let digest = Sha256::digest(&bytes);
                    let etag = format!("\"{}-{}\"", hex16(&digest), coding.suffix());
                    Some((coding, bytes, HeaderValue::from_str(&etag).ok()?))
                })
                .collect();
            if !encoded.is_empty() {
                let variants = Variants {
                    content_type,
                    encoded,
                };
                assets.insert(format!("/{name}"), variants);
            }
        }
        tracing::info!(
            assets = assets.len(),
            "serving the client's precompressed assets"
        );
        Self { assets }
    }

    /// The best variant of the asset at `path` that `accept_encoding`
    /// takes, answered with `cache` (`Cache-Control`); `None`: serve the
    /// file as it is. `if_none_match` answers 304 when it names it.
    pub(crate) fn answer(
        &self,
        path: &str,
        accept_encoding: Option<&str>,
        if_none_match: Option<&str>,
        cache: &'static str,
    ) -> Option<Response> {
        let variants = self.assets.get(path)?;
        let accept_encoding = accept_encoding?;
        let (coding, bytes, etag) = variants
            .encoded
            .iter()
            .find(|(coding, _, _)| accepts(accept_encoding, *coding))?;
        let unchanged = if_none_match.is_some_and(|tags| {
            let etag = etag.to_str().unwrap_or_default();
            tags.split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == etag)
        });
        let mut response = if unchanged {
            let mut response = Response::new(Bytes::new().into());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            Response::new(bytes.clone().into())
        };
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(variants.content_type),
        );
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(ETAG, etag.clone());
        Some(response)
    }
}

/// The first 16 bytes of a digest in hex.
fn hex16(digest: &[u8]) -> String {
    digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The type of the files the build compresses, by name.
fn content_type(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1;
    Some(match extension {
        "wasm" => "application/wasm",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts("gzip, deflate, br, zstd", Coding::Brotli));
        assert!(accepts("gzip, deflate, br, zstd", Coding::Gzip));
        assert!(!accepts("gzip", Coding::Brotli));
        assert!(!accepts("br;q=0, gzip", Coding::Brotli));
        assert!(accepts("BR;q=0.5", Coding::Brotli));
        assert!(accepts("*", Coding::Gzip));
        assert!(!accepts("*, gzip;q=0", Coding::Gzip));
        assert!(!accepts("identity", Coding::Gzip));
        assert!(!accepts("", Coding::Gzip));
    }
}
