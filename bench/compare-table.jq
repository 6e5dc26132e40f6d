# Turns bench/compare.sh's JSON lines into one markdown table: for each
# server, the median over its rounds (the worst for loss and failures), and
# the ratios of those medians.
def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
def ratio(a; b): if a == null or (b // 0) == 0 then "-" else ((a / b * 100 | round) / 100 | tostring) end;
def show: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
def whole: if . == null then "-" else round end;
def rows(scenario; server): map(select(.scenario == scenario and .server == server));
def med(scenario; server; field): rows(scenario; server) | map(.[field]) | median;
def worst(scenario; server; field): rows(scenario; server) | map(.[field]) | max;
# Highest deliveries/s of a step with zero loss, no failed connection and
# p99 under 1 s, per round; then the median over rounds.
def sustained(server):
  rows("1k-max"; server) | group_by(.round)
  | map(map(select(.loss == 0 and .failed_connections == 0 and .p99_ms < 1000))
        | map(.deliveries_per_s) | max // 0)
  | median;
def line(name; scenario; field):
  med(scenario; "chat"; field) as $c | med(scenario; "raw"; field) as $r | med(scenario; "node"; field) as $n
  | "| \(name) | \($c | show) | \($r | show) | \($n | show) | \(ratio($c; $r)) | \(ratio($c; $n)) |";
# This project's server with a conversation's mix, against the peers'
# posts-only run of the base scenario.
def mixline(name; scenario; base; field):
  med(scenario; "chat"; field) as $c | med(base; "raw"; field) as $r | med(base; "node"; field) as $n
  | if $c == null then empty
    else "| \(name) | \($c | show) | \($r | show) | \($n | show) | \(ratio($c; $r)) | \(ratio($c; $n)) |" end;
def counts(name; scenario; field):
  "| \(name) | \(worst(scenario; "chat"; field) // "-") | \(worst(scenario; "raw"; field) // "-") | \(worst(scenario; "node"; field) // "-") | | |";
def per_round(name; scenario; field):
  . as $all
  | [range(1; (map(.round) | max) + 1) as $r
     | ($all | map(select(.round == $r)) | ratio(med(scenario; "chat"; field); med(scenario; "raw"; field)))]
  | "- \(name), chat / raw-tokio by round: \(join(", "))";
. as $all
| (map(.round) | max) as $rounds
| [
  "chat and raw-tokio: median of \($rounds) round(s); node-ws: one round.",
  "",
  "| metric | chat | raw-tokio | node-ws | chat / raw-tokio | chat / node-ws |",
  "|---|---|---|---|---|---|",
  line("idle RSS per connection (KiB), 5,000 conns"; "idle"; "rss_per_connection_kib"),
  line("1k clients, 500 msg/s: p99 latency (ms)"; "1k-500"; "p99_ms"),
  line("1k clients, 500 msg/s: p50 latency (ms)"; "1k-500"; "p50_ms"),
  line("1k clients, 500 msg/s: deliveries/s"; "1k-500"; "deliveries_per_s"),
  counts("1k clients, 500 msg/s: loss (worst round)"; "1k-500"; "loss"),
  (sustained("chat") as $c | sustained("raw") as $r | sustained("node") as $n
   | "| 1k clients: highest sustained deliveries/s | \($c | whole) | \($r | whole) | \($n | whole) | \(ratio($c; $r)) | \(ratio($c; $n)) |"),
  line("10k clients, 40 msg/s: p99 latency (ms)"; "10k-40"; "p99_ms"),
  line("10k clients, 40 msg/s: p50 latency (ms)"; "10k-40"; "p50_ms"),
  counts("10k clients, 40 msg/s: failed connections (worst round)"; "10k-40"; "failed_connections"),
  counts("10k clients, 40 msg/s: loss (worst round)"; "10k-40"; "loss"),
  mixline("1k/500 with the mix (peers: posts only): p99 (ms)"; "1k-500-mix"; "1k-500"; "p99_ms"),
  mixline("10k/40 with the mix (peers: posts only): p99 (ms)"; "10k-40-mix"; "10k-40"; "p99_ms"),
  (if (rows("1k-500-mix"; "chat") | length) > 0 then counts("1k/500 with the mix: loss (worst round)"; "1k-500-mix"; "loss") else empty end),
  (if (rows("10k-40-mix"; "chat") | length) > 0 then counts("10k/40 with the mix: loss (worst round)"; "10k-40-mix"; "loss") else empty end),
  "",
  per_round("1k/500 p99"; "1k-500"; "p99_ms"),
  per_round("10k/40 p99"; "10k-40"; "p99_ms"),
  per_round("idle RSS"; "idle"; "rss_per_connection_kib"),
  "",
  "1k-max steps (deliveries/s, p99 ms, loss), by round:",
  (map(select(.scenario == "1k-max")) | group_by([.server, .round])[]
   | "- \(.[0].server), round \(.[0].round): " + (map("\(.rate|floor) → \(.deliveries_per_s|round), \(.p99_ms), \(.loss)") | join("; ")))
] | .[]
