#!/usr/bin/env bash
# Lighthouse (npm `lighthouse`, mobile preset, Debian's Chromium) on the
# login page and on a room as a person sees it (signed in with a name,
# through Lighthouse's user flow): the four scores of each.
#
#   bash bench/lighthouse.sh
#
# Installs lighthouse into target/lighthouse once (npm), builds the client
# and the release server, serves a fresh database on a loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=target/lighthouse
if [ ! -x "$tools/node_modules/.bin/lighthouse" ]; then
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-audit --no-fund lighthouse@12 >/dev/null
fi
cargo xtask dist >/dev/null
cargo build --release --quiet -p server
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=8431
./target/release/server --bind "127.0.0.1:$port" --db "$work/chat.db" >/dev/null 2>"$work/server.log" &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
CHROME_PATH=/usr/bin/chromium "$tools/node_modules/.bin/lighthouse" "$base/login" --quiet \
  --chrome-flags="--headless=new --no-sandbox --disable-gpu" \
  --only-categories=performance,accessibility,best-practices,seo \
  --output=json --output-path="$work/login.json"
# Beside its node_modules: an ES module finds its imports from where it is.
cp bench/lighthouse/room.mjs "$tools/room.mjs"
node "$tools/room.mjs" "$base" "$work/room.json"
for page in login room; do
  jq -r --arg page "$page" '"| \($page) | " + ([.categories[] | (.score * 100 | round | tostring)] | join(" | "))
    + " | \(.audits["largest-contentful-paint"].displayValue) | \(.audits["cumulative-layout-shift"].displayValue) |"' \
    "$work/$page.json"
done
