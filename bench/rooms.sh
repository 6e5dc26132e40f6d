#!/usr/bin/env bash
# Many rooms on this project's server, against itself with one room: the
# same deliveries per second, one run, one table of ratios.
#
#   bash bench/rooms.sh              # about 15 minutes
#   ROUNDS=1 bash bench/rooms.sh     # one round: about 5 minutes
#
# Scenarios (each round runs them in turn, on a fresh server each):
#   rooms      10,000 clients in 1,000 rooms of 10, two senders per room,
#              2,000 msg/s in total, 30 s: 20,000 deliveries/s.
#   one-room   the same 10,000 clients in one room, 20 senders, 2 msg/s in
#              total, 30 s: 20,000 deliveries/s.
#   rooms-mix, one-room-mix
#              the two above with a conversation's mix (80% posts, 10%
#              reactions, 5% edits, 5% deletions); latency on the posts.
#   idle-1     5,000 idle connections in one room each (all the same room).
#   idle-20    5,000 idle connections in 20 rooms each (the same 20).
#   idle-own   5,000 idle connections, each alone in a room of its own:
#              what a room costs.
# Reported: p50/p99 latency, loss, deliveries from another room (leaks), and
# RSS per connection.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet -p server -p loadgen

port=9400
start() { # -> sets $pid, $url
  port=$((port + 1))
  "$root/target/release/server" --bind "127.0.0.1:$port" --db "$work/chat-$port.db" \
    --static-dir /nonexistent --max-connections-per-ip 20000 \
    --address-rate-limit 1000000 --address-rate-burst 1000000 \
    --join-rate-limit 1000000 --join-rate-burst 1000000 >/dev/null 2>"$work/chat.log" &
  pid=$!
  url="ws://127.0.0.1:$port/ws"
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
}
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; sleep 1; }
loadgen() { # scenario mode args...
  local scenario=$1 mode=$2; shift 2
  "$root/target/release/loadgen" "$mode" --await-history "$@" --url "$url" --pid "$pid" --json \
    | jq -c --arg scenario "$scenario" --argjson round "$round" \
      '. + {scenario: $scenario, round: $round}'
}

rounds="${ROUNDS:-3}"
scenarios="${SCENARIOS:-rooms one-room rooms-mix one-room-mix idle-1 idle-20 idle-own}"
for round in $(seq "$rounds"); do
  for scenario in $scenarios; do
    start
    case "$scenario" in
      rooms)
        loadgen rooms chat --clients 10000 --rooms 1000 --senders 2000 --rate 2000 \
          --duration 30 --connect-concurrency 200 --name-prefix "r$round-" ;;
      one-room)
        loadgen one-room chat --clients 10000 --senders 20 --rate 2 \
          --duration 30 --connect-concurrency 200 --name-prefix "o$round-" ;;
      # The same two with a conversation's mix (loadgen --mix: 80% posts,
      # 10% reactions, 5% edits, 5% deletions), latency on the posts.
      rooms-mix)
        loadgen rooms-mix chat --clients 10000 --rooms 1000 --senders 2000 --rate 2000 \
          --duration 30 --connect-concurrency 200 --mix --name-prefix "s$round-" ;;
      one-room-mix)
        loadgen one-room-mix chat --clients 10000 --senders 20 --rate 2 \
          --duration 30 --connect-concurrency 200 --mix --name-prefix "p$round-" ;;
      idle-1)
        loadgen idle-1 idle --clients 5000 --rooms-each 1 --name-prefix "i$round-" ;;
      idle-20)
        loadgen idle-20 idle --clients 5000 --rooms-each 20 --name-prefix "j$round-" ;;
      idle-own)
        loadgen idle-own idle --clients 5000 --rooms 5000 --name-prefix "k$round-" ;;
      *) echo "rooms.sh: unknown scenario $scenario" >&2; exit 2 ;;
    esac
    stop
  done
done > "$work/results.jsonl"
cp "$work/results.jsonl" "${RESULTS:-/tmp/rooms-results.jsonl}"

jq -rs -f "$root/bench/rooms-table.jq" "$work/results.jsonl"
