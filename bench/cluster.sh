#!/usr/bin/env bash
# One room on one instance against the same room on two instances sharing
# one Redis, same load generator, one run, one table.
#
#   bash bench/cluster.sh            # about 3 minutes
#
# Setups (release server, every limit on; only the per-IP connection cap
# raised, since all clients come from 127.0.0.1):
#   sqlite      1 instance, history in SQLite (the default)
#   redis-1     1 instance, history in Redis
#   redis-2     2 instances on one Redis, clients split between them
# Redis runs with appendonly yes and appendfsync always: like SQLite's
# synchronous=FULL, a message is on disk before anyone sees it.
# Scenarios:
#   1k-500    1,000 clients, 200 of them sending 500 msg/s in total, 10 s.
#   1k-1000   1,000 clients, 400 of them sending 1,000 msg/s in total, 10 s.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet -p server -p loadgen

port=9400
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
    sleep 0.1
  done
}
redis_port=$((port + 50))
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work" --save "" \
  --appendonly yes --appendfsync always >"$work/redis.log" &
wait_port "$redis_port"

pids=()
urls=()
instance() { # backend prefix
  port=$((port + 1))
  local args=(--bind "127.0.0.1:$port" --static-dir /nonexistent --max-connections-per-ip 20000 \
    --address-rate-limit 1000000 --address-rate-burst 1000000 \
    --join-rate-limit 1000000 --join-rate-burst 1000000)
  case "$1" in
    sqlite) args+=(--db "$work/chat-$port.db") ;;
    redis) args+=(--redis-url "redis://127.0.0.1:$redis_port" --redis-prefix "$2") ;;
  esac
  "$root/target/release/server" "${args[@]}" >/dev/null 2>>"$work/server.log" &
  pids+=($!)
  urls+=(--url "ws://127.0.0.1:$port/ws")
  wait_port "$port"
}
stop_all() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
  urls=()
  sleep 1
}
start() { # setup run
  case "$1" in
    sqlite) instance sqlite ;;
    redis-1) instance redis "r1-$2" ;;
    redis-2) instance redis "r2-$2"; instance redis "r2-$2" ;;
  esac
}
loadgen() { # setup scenario args...
  local setup=$1 scenario=$2; shift 2
  local pid_args=()
  for pid in "${pids[@]}"; do pid_args+=(--pid "$pid"); done
  "$root/target/release/loadgen" "$@" "${urls[@]}" "${pid_args[@]}" --json \
    | jq -c --arg setup "$setup" --arg scenario "$scenario" '. + {setup: $setup, scenario: $scenario}'
}

for setup in sqlite redis-1 redis-2; do
  start "$setup" a
  loadgen "$setup" 1k-500 chat --await-history --clients 1000 --senders 200 --rate 500 --duration 10 --name-prefix a
  stop_all
  start "$setup" b
  loadgen "$setup" 1k-1000 chat --await-history --clients 1000 --senders 400 --rate 1000 --duration 10 --name-prefix b
  stop_all
done > "$work/results.jsonl"
cp "$work/results.jsonl" "${RESULTS:-/tmp/cluster-results.jsonl}"

jq -rs -f "$root/bench/cluster-table.jq" "$work/results.jsonl"
