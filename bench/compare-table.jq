# Turns bench/compare.sh's JSON lines into one markdown table with ratios.
def by(s): map(select(.scenario == s)) | INDEX(.server);
def ratio(a; b): if (b // 0) == 0 then "-" else ((a / b * 100 | round) / 100 | tostring) end;
def sustained: map(select(.scenario == "1k-max" and .loss == 0 and .failed_connections == 0 and .p99_ms < 1000))
  | group_by(.server) | map(max_by(.deliveries_per_s)) | INDEX(.server);
def row(name; f; better):
  "| \(name) | \(f(.chat)) | \(f(.raw)) | \(f(.node)) |";
(by("idle")) as $idle
| (by("1k-500")) as $steady
| (by("10k-40")) as $crowd
| sustained as $max
| [
  "| metric | chat | raw-tokio | node-ws | chat / raw-tokio | chat / node-ws |",
  "|---|---|---|---|---|---|",
  "| idle RSS per connection (KiB), 5,000 conns | \($idle.chat.rss_per_connection_kib*100|round/100) | \($idle.raw.rss_per_connection_kib*100|round/100) | \($idle.node.rss_per_connection_kib*100|round/100) | \(ratio($idle.chat.rss_per_connection_kib; $idle.raw.rss_per_connection_kib)) | \(ratio($idle.chat.rss_per_connection_kib; $idle.node.rss_per_connection_kib)) |",
  "| 1k clients, 500 msg/s: p99 latency (ms) | \($steady.chat.p99_ms) | \($steady.raw.p99_ms) | \($steady.node.p99_ms) | \(ratio($steady.chat.p99_ms; $steady.raw.p99_ms)) | \(ratio($steady.chat.p99_ms; $steady.node.p99_ms)) |",
  "| 1k clients, 500 msg/s: p50 latency (ms) | \($steady.chat.p50_ms) | \($steady.raw.p50_ms) | \($steady.node.p50_ms) | \(ratio($steady.chat.p50_ms; $steady.raw.p50_ms)) | \(ratio($steady.chat.p50_ms; $steady.node.p50_ms)) |",
  "| 1k clients, 500 msg/s: deliveries/s | \($steady.chat.deliveries_per_s|round) | \($steady.raw.deliveries_per_s|round) | \($steady.node.deliveries_per_s|round) | \(ratio($steady.chat.deliveries_per_s; $steady.raw.deliveries_per_s)) | \(ratio($steady.chat.deliveries_per_s; $steady.node.deliveries_per_s)) |",
  "| 1k clients, 500 msg/s: loss | \($steady.chat.loss) | \($steady.raw.loss) | \($steady.node.loss) | | |",
  "| 1k clients: highest sustained deliveries/s | \($max.chat.deliveries_per_s // 0|round) | \($max.raw.deliveries_per_s // 0|round) | \($max.node.deliveries_per_s // 0|round) | \(ratio($max.chat.deliveries_per_s // 0; $max.raw.deliveries_per_s)) | \(ratio($max.chat.deliveries_per_s // 0; $max.node.deliveries_per_s)) |",
  "| 10k clients, 40 msg/s: p99 latency (ms) | \($crowd.chat.p99_ms) | \($crowd.raw.p99_ms) | \($crowd.node.p99_ms) | \(ratio($crowd.chat.p99_ms; $crowd.raw.p99_ms)) | \(ratio($crowd.chat.p99_ms; $crowd.node.p99_ms)) |",
  "| 10k clients, 40 msg/s: failed connections | \($crowd.chat.failed_connections) | \($crowd.raw.failed_connections) | \($crowd.node.failed_connections) | | |",
  "| 10k clients, 40 msg/s: loss | \($crowd.chat.loss) | \($crowd.raw.loss) | \($crowd.node.loss) | | |",
  "",
  "1k-max steps (deliveries/s, p99 ms, loss):",
  (map(select(.scenario == "1k-max")) | group_by(.server)[] | "- \(.[0].server): " + (map("\(.rate|floor) msg/s → \(.deliveries_per_s|round)/s, p99 \(.p99_ms), loss \(.loss)") | join("; ")))
] | .[]
