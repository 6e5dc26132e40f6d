#!/usr/bin/env bash
# The chat server against the two peers in ../shared/peers, same load
# generator, one run, one table of ratios.
#
#   bash bench/compare.sh            # about 16 minutes
#   ROUNDS=1 bash bench/compare.sh   # one round: about 7 minutes
#   SCENARIOS=10k-40 ROUNDS=7 bash bench/compare.sh   # some scenarios only
#
# Servers: `chat` (this project, release, durable SQLite history, every limit
# on; only the per-address caps and budgets raised, since all clients come from
# 127.0.0.1), `raw` (bare tokio-tungstenite broadcast), `node` (Node.js ws).
# Scenarios:
#   idle     5,000 idle connections: server RSS per connection.
#   1k-500   1,000 clients, 200 of them sending 500 msg/s in total, 10 s.
#   1k-max   1,000 clients all sending, stepping the rate up; the highest
#            deliveries/s with zero loss and p99 under 1 s.
#   10k-40   10,000 clients, 20 of them sending 40 msg/s in total, 10 s.
# Latency on one machine is noisy (one run's p99 ratio ranged from 1.2 to
# 1.7): chat and raw-tokio run every scenario ROUNDS times (default 3),
# taking turns, and the table shows medians. node-ws runs once; it is an
# order of magnitude behind.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
peers="${PEERS:-$root/../shared/peers}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet -p server -p loadgen
# shared/ is read-only in CI: build the peers in a copy.
cp -r "$peers/raw-tokio" "$peers/node-ws" "$work/"
(cd "$work/raw-tokio" && cargo build --release --quiet)
(cd "$work/node-ws" && npm install --silent --no-audit --no-fund >/dev/null)

port=9300
start() { # name -> sets $pid, $url
  port=$((port + 1))
  case "$1" in
    chat) "$root/target/release/server" --bind "127.0.0.1:$port" --db "$work/chat-$port.db" \
            --static-dir /nonexistent --max-connections-per-ip 20000 \
            --address-rate-limit 1000000 --address-rate-burst 1000000 \
            --join-rate-limit 1000000 --join-rate-burst 1000000 >/dev/null 2>"$work/chat.log" & ;;
    raw) PORT=$port "$work/raw-tokio/target/release/raw-tokio-peer" >/dev/null & ;;
    node) PORT=$port node "$work/node-ws/server.js" >/dev/null & ;;
  esac
  pid=$!
  url="ws://127.0.0.1:$port/ws"
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
}
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; sleep 1; }
loadgen() { # server scenario mode args...
  local server=$1 scenario=$2 mode=$3; shift 3
  # Only this project's server says when a client is in the room.
  local joined=()
  [ "$server" = chat ] && joined=(--await-history)
  "$root/target/release/loadgen" "$mode" "${joined[@]}" "$@" --url "$url" --pid "$pid" --json \
    | jq -c --arg server "$server" --arg scenario "$scenario" --argjson round "$round" \
      '. + {server: $server, scenario: $scenario, round: $round}'
}

rounds="${ROUNDS:-3}"
scenarios="${SCENARIOS:-idle 1k-500 1k-max 10k-40}"
for round in $(seq "$rounds"); do
  servers=(chat raw)
  [ "$round" = 1 ] && servers+=(node)
  for server in "${servers[@]}"; do
    for scenario in $scenarios; do
      case "$scenario" in
        idle)
          start "$server"
          loadgen "$server" idle idle --clients 5000 --name-prefix "idle$round-"
          stop ;;
        1k-500)
          start "$server"
          loadgen "$server" 1k-500 chat --clients 1000 --senders 200 --rate 500 --duration 10 \
            --name-prefix "a$round-"
          stop ;;
        1k-max)
          for rate in 50 100 200 400 600 800 1000 1500 2000; do
            start "$server"
            loadgen "$server" 1k-max chat --clients 1000 --senders 1000 --rate "$rate" \
              --duration 5 --drain 5 --name-prefix "m$round-$rate-"
            stop
          done ;;
        10k-40)
          start "$server"
          loadgen "$server" 10k-40 chat --clients 10000 --senders 20 --rate 40 --duration 10 \
            --connect-concurrency 200 --name-prefix "t$round-"
          stop ;;
        # A conversation's mix (loadgen --mix: 80% posts, 10% reactions, 5%
        # edits, 5% deletions) at the same rate of frames: this project's
        # server only, compared with the peers' posts-only runs above.
        1k-500-mix)
          [ "$server" = chat ] || continue
          start "$server"
          loadgen "$server" 1k-500-mix chat --clients 1000 --senders 200 --rate 500 --duration 10 \
            --mix --name-prefix "b$round-"
          stop ;;
        10k-40-mix)
          [ "$server" = chat ] || continue
          start "$server"
          loadgen "$server" 10k-40-mix chat --clients 10000 --senders 20 --rate 40 --duration 10 \
            --connect-concurrency 200 --mix --name-prefix "u$round-"
          stop ;;
        *) echo "compare.sh: unknown scenario $scenario" >&2; exit 2 ;;
      esac
    done
  done
done > "$work/results.jsonl"
cp "$work/results.jsonl" "${RESULTS:-/tmp/compare-results.jsonl}"

jq -rs -f "$root/bench/compare-table.jq" "$work/results.jsonl"
