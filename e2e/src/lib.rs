//! End-to-end tests live in `tests/`: the release build of the web client
//! (`dist/`), served by the real server, driven in headless Chromium through
//! chromedriver. `cargo xtask test` builds `dist/` first.
