#!/usr/bin/env bash
# Durable history versus an in-memory store, same server, same load, one run.
#
#   bash bench/persistence.sh
#
# Scenario "steady": 100 clients, 50 of them sending 500 msg/s in total for
# 10 s. Scenario "saturate": 10 clients all sending as fast as the server
# takes them (100,000 msg/s offered) for 5 s. "accepted/s" is messages stored
# and broadcast per second: deliveries/s divided by the number of clients.
# The fan-out buffer is raised so that saturation measures the store and
# the fan-out, not the slow-consumer cut-off; the per-connection rate limit
# is lifted, since a few connections send everything.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p server -p loadgen
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

port=8411
run() { # store scenario loadgen-args...
  local store=$1 scenario=$2; shift 2
  local db="$work/chat-$scenario.db"
  [ "$store" = memory ] && db=":memory:"
  rm -f "$work"/chat-*.db*
  ./target/release/server --bind "127.0.0.1:$port" --db "$db" --static-dir /nonexistent \
    --history 0 --fanout-capacity 65536 --rate-limit 1000000 --rate-burst 1000000 \
    --max-connections-per-ip 20000 \
    --address-rate-limit 1000000 --address-rate-burst 1000000 \
    --join-rate-limit 1000000 --join-rate-burst 1000000 \
    >/dev/null 2>"$work/server.log" &
  local pid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  ./target/release/loadgen chat --url "ws://127.0.0.1:$port/ws" --pid "$pid" --json "$@" \
    | jq -c --arg store "$store" --arg scenario "$scenario" '. + {store: $store, scenario: $scenario}'
  kill "$pid"; wait "$pid" 2>/dev/null || true
  port=$((port + 1))
}

{
  for store in durable memory; do
    run "$store" steady --clients 100 --senders 50 --rate 500 --duration 10
    run "$store" saturate --clients 10 --senders 10 --rate 100000 --duration 5
  done
} > "$work/results.jsonl"

jq -rs '
  def accepted: (.deliveries_per_s / .connected);
  def row(s): (map(select(.scenario == s)) | INDEX(.store)) as $r
    | "| \(s) | \($r.durable | accepted | floor) | \($r.memory | accepted | floor) | \((($r.durable | accepted) / ($r.memory | accepted)) * 100 | floor)% | \($r.durable.p50_ms) / \($r.durable.p99_ms) | \($r.memory.p50_ms) / \($r.memory.p99_ms) | \($r.durable.loss) / \($r.memory.loss) |";
  "| scenario | durable accepted/s | in-memory accepted/s | durable / in-memory | durable p50 / p99 ms | in-memory p50 / p99 ms | loss (durable / memory) |",
  "|---|---|---|---|---|---|---|",
  row("steady"), row("saturate")
' "$work/results.jsonl"
