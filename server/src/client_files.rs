//! The built web client's files, held in memory: read from a directory at
//! start (`--static-dir`, for development) or built into the binary (the
//! release, `cargo xtask release`: one file to install).
//!
//! Compressed once, at build time: `cargo xtask dist` writes `name.br`
//! (brotli) and `name.gz` (gzip) beside each asset, and the server answers
//! with the smallest one the browser accepts (`Accept-Encoding`), marked
//! with `Content-Encoding` and `Vary`. The wasm module is 450 KB raw and
//! 150 KB in brotli: compressing it on every request would cost the CPU
//! what precompressing costs once. The binary carries only the compressed
//! variants; the plain file (for a client that takes neither) is unpacked
//! from the gzip one at start.
//!
//! The whole client is a few hundred KB, fixed while the server runs: a
//! rebuilt client needs a restart (its shell's script hash is in the
//! content security policy, computed at start too).

use std::collections::HashMap;
use std::io::Read;
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

/// One file of the client: as it is, and its compressed variants.
struct Asset {
    content_type: &'static str,
    plain: Bytes,
    plain_etag: HeaderValue,
    /// Best first; each with its strong validator.
    encoded: Vec<(Coding, Bytes, HeaderValue)>,
}

/// The client's files by request path (`/client-0123.js`).
pub(crate) struct ClientFiles {
    assets: HashMap<String, Asset>,
}

impl ClientFiles {
    /// The files directly in `dir` (the build writes none deeper), each
    /// only if it really lies in the directory once links are followed
    /// (`dist/etc -> /etc` is not served). Empty when `dir` cannot be read.
    pub(crate) fn read_dir(dir: &Path) -> Self {
        let Ok(root) = dir.canonicalize() else {
            return Self::from_files(Vec::new());
        };
        let Ok(entries) = std::fs::read_dir(&root) else {
            return Self::from_files(Vec::new());
        };
        let mut files = Vec::new();
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Ok(real) = entry.path().canonicalize() else {
                continue;
            };
            if real.parent() != Some(root.as_path()) {
                tracing::warn!(
                    file = %entry.path().display(),
                    resolves_to = %real.display(),
                    "not serving a file outside the client's directory"
                );
                continue;
            }
            if !real.is_file() {
                continue;
            }
            match std::fs::read(&real) {
                Ok(bytes) => files.push((name, Bytes::from(bytes))),
                Err(error) => tracing::warn!(file = %real.display(), %error, "cannot read"),
            }
        }
        Self::from_files(files)
    }

    /// The client built into this binary (`--features embed-client`), if
    /// it was.
    pub(crate) fn built_in() -> Option<Self> {
        #[cfg(feature = "embed-client")]
        {
            let files = built_in::Dist::iter()
                .filter_map(|name| {
                    let file = built_in::Dist::get(&name)?;
                    Some((name.into_owned(), Bytes::from(file.data.into_owned())))
                })
                .collect();
            Some(Self::from_files(files))
        }
        #[cfg(not(feature = "embed-client"))]
        None
    }

    /// Groups `(name, contents)` pairs into assets: `x.br` and `x.gz` are
    /// variants of `x`, whose plain contents are unpacked from `x.gz` when
    /// only the variants are given.
    fn from_files(files: Vec<(String, Bytes)>) -> Self {
        let mut plain = HashMap::new();
        let mut variants: HashMap<String, Vec<(Coding, Bytes)>> = HashMap::new();
        for (name, bytes) in files {
            let variant = Coding::BEST_FIRST.into_iter().find_map(|coding| {
                let base = name.strip_suffix(coding.suffix())?.strip_suffix('.')?;
                Some((base.to_owned(), coding))
            });
            match variant {
                Some((base, coding)) => variants.entry(base).or_default().push((coding, bytes)),
                None => {
                    plain.insert(name, bytes);
                }
            }
        }
        for (base, encoded) in &variants {
            if plain.contains_key(base) {
                continue;
            }
            let gzip = encoded.iter().find(|(coding, _)| *coding == Coding::Gzip);
            let mut unpacked = Vec::new();
            match gzip.map(|(_, bytes)| {
                flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut unpacked)
            }) {
                Some(Ok(_)) => {
                    plain.insert(base.clone(), Bytes::from(unpacked));
                }
                Some(Err(error)) => {
                    tracing::warn!(file = %base, %error, "cannot unpack its gzip variant")
                }
                None => tracing::warn!(file = %base, "only a brotli variant: not served"),
            }
        }
        let mut assets = HashMap::new();
        for (name, plain) in plain {
            let mut encoded: Vec<_> = variants
                .remove(&name)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(coding, bytes)| {
                    let etag = etag(&bytes, coding.suffix())?;
                    Some((coding, bytes, etag))
                })
                .collect();
            encoded
                .sort_by_key(|(coding, _, _)| Coding::BEST_FIRST.iter().position(|c| c == coding));
            let Some(plain_etag) = etag(&plain, "id") else {
                continue;
            };
            let asset = Asset {
                content_type: content_type(&name),
                plain,
                plain_etag,
                encoded,
            };
            assets.insert(format!("/{name}"), asset);
        }
        Self { assets }
    }

    /// How many files it serves.
    pub(crate) fn len(&self) -> usize {
        self.assets.len()
    }

    /// The shell's text, when there is one.
    pub(crate) fn index_html(&self) -> Option<&str> {
        let index = self.assets.get("/index.html")?;
        std::str::from_utf8(&index.plain).ok()
    }

    /// The file at `path` in the best variant `accept_encoding` takes (as
    /// it is otherwise), answered with `cache` (`Cache-Control`); 304 when
    /// `if_none_match` names it. `None`: no such file.
    pub(crate) fn answer(
        &self,
        path: &str,
        accept_encoding: Option<&str>,
        if_none_match: Option<&str>,
        cache: &'static str,
    ) -> Option<Response> {
        let asset = self.assets.get(path)?;
        let encoded = accept_encoding.and_then(|accept_encoding| {
            asset
                .encoded
                .iter()
                .find(|(coding, _, _)| accepts(accept_encoding, *coding))
        });
        let (coding, bytes, etag) = match encoded {
            Some((coding, bytes, etag)) => (Some(*coding), bytes, etag),
            None => (None, &asset.plain, &asset.plain_etag),
        };
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
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        if let Some(coding) = coding {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(coding.token()));
        }
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(ETAG, etag.clone());
        Some(response)
    }
}

/// The client as `cargo xtask dist` left it in dist/ when this binary was
/// built: its compressed variants and the files that have none.
#[cfg(feature = "embed-client")]
mod built_in {
    #[derive(rust_embed::Embed)]
    #[folder = "../dist"]
    #[include = "*.br"]
    #[include = "*.gz"]
    #[include = "*.png"]
    #[include = "*.ico"]
    #[include = "*.txt"]
    pub(super) struct Dist;
}

/// A strong validator for `bytes` in the coding named `suffix`.
fn etag(bytes: &[u8], suffix: &str) -> Option<HeaderValue> {
    let digest = Sha256::digest(bytes);
    HeaderValue::from_str(&format!("\"{}-{suffix}\"", hex16(&digest))).ok()
}

/// The first 16 bytes of a digest in hex.
fn hex16(digest: &[u8]) -> String {
    digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The type of a file, by its name.
fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
    match extension {
        "wasm" => "application/wasm",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
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

    /// The built-in client's shape: only compressed variants (and files
    /// without any), the plain file unpacked from the gzip one.
    #[test]
    fn plain_files_are_unpacked_from_their_gzip_variant() {
        use std::io::Write;
        let shell = "<!doctype html><title>chat</title>";
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(shell.as_bytes()).expect("compress");
        let gzip = Bytes::from(gzip.finish().expect("compress"));
        let files = ClientFiles::from_files(vec![
            ("index.html.gz".to_owned(), gzip.clone()),
            ("index.html.br".to_owned(), Bytes::from_static(b"brotli")),
            ("icon-192.png".to_owned(), Bytes::from_static(b"\x89PNG")),
            ("lost.js.br".to_owned(), Bytes::from_static(b"brotli")),
        ]);
        assert_eq!(
            files.len(),
            2,
            "a file with only a brotli variant is not served"
        );
        assert_eq!(files.index_html(), Some(shell));
        let body = |response: Response| {
            let headers = response.headers().clone();
            let body =
                futures::executor::block_on(http_body_util::BodyExt::collect(response.into_body()))
                    .expect("body")
                    .to_bytes();
            (headers.get(CONTENT_ENCODING).cloned(), body)
        };
        let answer = |accept| {
            files
                .answer("/index.html", accept, None, "no-cache")
                .expect("found")
        };
        assert_eq!(body(answer(None)), (None, Bytes::from(shell)));
        assert_eq!(
            body(answer(Some("gzip"))),
            (Some(HeaderValue::from_static("gzip")), gzip)
        );
        assert_eq!(
            body(answer(Some("br, gzip"))),
            (
                Some(HeaderValue::from_static("br")),
                Bytes::from_static(b"brotli")
            )
        );
        let icon = files
            .answer("/icon-192.png", Some("br"), None, "no-cache")
            .expect("icon");
        assert_eq!(
            icon.headers().get(CONTENT_TYPE),
            Some(&HeaderValue::from_static("image/png"))
        );
        assert!(files.answer("/lost.js", None, None, "no-cache").is_none());
    }
}
