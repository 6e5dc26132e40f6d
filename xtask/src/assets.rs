//! The built client made ready to serve, after trunk: wasm-bindgen's
//! JavaScript minified (trunk's own minifier fails on it, and the file
//! shipped as written), its integrity hash in `index.html` brought up to
//! date, and every text or wasm asset precompressed (`name.br`,
//! `name.gz`), so that the server answers with brotli or gzip without
//! compressing on each request.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use oxc::allocator::Allocator;
use oxc::codegen::{Codegen, CodegenOptions, CommentOptions};
use oxc::mangler::MangleOptions;
use oxc::minifier::{CompressOptions, Minifier, MinifierOptions};
use oxc::parser::Parser;
use oxc::span::SourceType;
use sha2::{Digest, Sha384};

use crate::Result;

/// The files the server may send compressed, by extension.
const COMPRESSED: [&str; 6] = ["wasm", "js", "css", "html", "webmanifest", "json"];

/// Minifies the client's module, then compresses everything in `dist`.
pub(crate) fn finish(dist: &Path) -> Result {
    let index_path = dist.join("index.html");
    let mut index = read_text(&index_path)?;
    for name in names(dist)? {
        // wasm-bindgen's module, named with trunk's hash; sw.js is ours, and
        // small.
        if name.ends_with(".js") && name.starts_with("client-") {
            let path = dist.join(&name);
            let source = read_text(&path)?;
            let minified = minify_module(&source).map_err(|error| format!("{name}: {error}"))?;
            let (before, after) = (integrity(source.as_bytes()), integrity(minified.as_bytes()));
            if !index.contains(&before) {
                return Err(format!("index.html has no integrity hash for {name}"));
            }
            index = index.replace(&before, &after);
            write(&path, minified.as_bytes())?;
            println!(
                "xtask: minified {name}: {} -> {} bytes",
                source.len(),
                minified.len()
            );
        }
    }
    // The picker's emoji, named in the page (the client reads the name
    // there); a build before left its own, by another hash.
    for name in names(dist)? {
        if name.starts_with("emoji-") {
            std::fs::remove_file(dist.join(&name)).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    let emoji = crate::emoji::write(dist)?;
    index = index.replacen(
        "</head>",
        &format!("<meta name=\"emoji-data\" content=\"/{emoji}\"></head>"),
        1,
    );
    write(&index_path, index.as_bytes())?;
    for name in names(dist)? {
        let extension = name.rsplit_once('.').map_or("", |(_, extension)| extension);
        if COMPRESSED.contains(&extension) {
            compress(&dist.join(&name))?;
        }
    }
    Ok(())
}

/// The file names directly in `dir`, sorted.
fn names(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// An ES module, minified: compressed, local names mangled (its exports
/// and top-level names kept), no comments, no spaces.
fn minify_module(source: &str) -> Result<String> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::mjs()).parse();
    if let Some(error) = parsed.diagnostics.first() {
        return Err(format!("cannot parse: {error}"));
    }
    let mut program = parsed.program;
    let options = MinifierOptions {
        mangle: Some(MangleOptions::default()),
        compress: Some(CompressOptions::smallest()),
        ..MinifierOptions::default()
    };
    let minified = Minifier::new(options).minify(&allocator, &mut program);
    let printed = Codegen::new()
        .with_options(CodegenOptions {
            minify: true,
            comments: CommentOptions::disabled(),
            ..CodegenOptions::default()
        })
        .with_scoping(minified.scoping)
        .build(&program);
    Ok(printed.code)
}

/// The `integrity` attribute's value trunk writes: SHA-384 in base64.
fn integrity(bytes: &[u8]) -> String {
    format!("sha384-{}", STANDARD.encode(Sha384::digest(bytes)))
}

/// Writes `path.br` (brotli, best) and `path.gz` (gzip, best) beside it.
fn compress(path: &Path) -> Result {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut brotli = Vec::new();
    {
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 22,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut raw.as_slice(), &mut brotli, &params)
            .map_err(|e| format!("{}: brotli: {e}", path.display()))?;
    }
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&raw)
        .and_then(|()| gzip.try_finish())
        .map_err(|e| format!("{}: gzip: {e}", path.display()))?;
    let gzip = gzip
        .finish()
        .map_err(|e| format!("{}: gzip: {e}", path.display()))?;
    let name = path.display();
    write(Path::new(&format!("{name}.br")), &brotli)?;
    write(Path::new(&format!("{name}.gz")), &gzip)?;
    println!(
        "xtask: {name}: {} bytes, {} brotli, {} gzip",
        raw.len(),
        brotli.len(),
        gzip.len()
    );
    Ok(())
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
