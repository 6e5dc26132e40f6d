# Turns bench/cluster.sh's JSON lines into one markdown table.
def row(s): map(select(.scenario == s)) | INDEX(.setup);
def cells(f): "\(.sqlite | f) | \(.["redis-1"] | f) | \(.["redis-2"] | f)";
def ratio(f): if ((.["redis-1"] | f) // 0) == 0 then "-"
  else ((.["redis-2"] | f) / (.["redis-1"] | f) * 100 | round / 100 | tostring) end;
. as $all
| ["| scenario | metric | sqlite, 1 instance | redis, 1 instance | redis, 2 instances | 2 / 1 on redis |",
   "|---|---|---|---|---|---|"]
+ ([["1k-500", "1k clients, 500 msg/s"], ["1k-1000", "1k clients, 1,000 msg/s"]]
   | map(. as [$s, $name] | ($all | row($s)) as $r
     | "| \($name) | deliveries/s | \($r | cells(.deliveries_per_s | round)) | \($r | ratio(.deliveries_per_s)) |",
       "| \($name) | p50 latency (ms) | \($r | cells(.p50_ms)) | \($r | ratio(.p50_ms)) |",
       "| \($name) | p99 latency (ms) | \($r | cells(.p99_ms)) | \($r | ratio(.p99_ms)) |",
       "| \($name) | loss | \($r | cells(.loss)) | |",
       "| \($name) | server RSS after (KiB, all instances) | \($r | cells(.rss_after_kib)) | |"))
| .[]
