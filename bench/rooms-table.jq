# Turns bench/rooms.sh's JSON lines into one markdown table: the median
# over rounds (the worst for loss and leaks), and the ratios that the
# targets are stated in.
def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
def show: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
def med(scenario; field): map(select(.scenario == scenario) | .[field]) | median;
def worst(scenario; field): map(select(.scenario == scenario) | .[field]) | max;
. as $all
| (map(.round) | max) as $rounds
| (med("rooms"; "p99_ms")) as $rooms_p99
| (med("one-room"; "p99_ms")) as $one_p99
| (med("idle-1"; "rss_per_connection_kib")) as $idle1
| (med("idle-20"; "rss_per_connection_kib")) as $idle20
| (med("idle-own"; "rss_per_connection_kib")) as $own
| [
  "Median of \($rounds) round(s); loss and leaks: the worst round.",
  "",
  "| metric | 1,000 rooms x 10 | 1 room x 10,000 | ratio |",
  "|---|---|---|---|",
  "| p99 latency (ms) | \($rooms_p99 | show) | \($one_p99 | show) | \(if $one_p99 > 0 then ($rooms_p99 / $one_p99 | show) else "-" end) |",
  "| p50 latency (ms) | \(med("rooms"; "p50_ms") | show) | \(med("one-room"; "p50_ms") | show) | |",
  "| deliveries/s | \(med("rooms"; "deliveries_per_s") | show) | \(med("one-room"; "deliveries_per_s") | show) | |",
  "| loss | \(worst("rooms"; "loss")) | \(worst("one-room"; "loss")) | |",
  "| deliveries from another room | \(worst("rooms"; "leaks")) | \(worst("one-room"; "leaks")) | |",
  "",
  (med("rooms-mix"; "p99_ms")) as $rooms_mix
  | (med("one-room-mix"; "p99_ms")) as $one_mix
  | if $rooms_mix == null and $one_mix == null then empty else (
    "| with the mix (80% posts, 10% reactions, 5% edits, 5% deletions) | 1,000 rooms x 10 | 1 room x 10,000 | ratio |",
    "|---|---|---|---|",
    "| p99 latency (ms) | \($rooms_mix | show) | \($one_mix | show) | \(if ($one_mix // 0) > 0 then ($rooms_mix / $one_mix | show) else "-" end) |",
    "| p99, mix / posts only | \(if $rooms_mix and $rooms_p99 then ($rooms_mix / $rooms_p99 | show) else "-" end) | \(if $one_mix and $one_p99 then ($one_mix / $one_p99 | show) else "-" end) | |",
    "| loss | \(worst("rooms-mix"; "loss")) | \(worst("one-room-mix"; "loss")) | |",
    "| error frames | \(worst("rooms-mix"; "errors")) | \(worst("one-room-mix"; "errors")) | |",
    "") end,
  "| idle, 5,000 connections | RSS per connection (KiB) |",
  "|---|---|",
  "| in 1 room | \($idle1 | show) |",
  "| in 20 rooms (the same 20) | \($idle20 | show) |",
  "| 20 rooms minus 1 room | \(if $idle20 and $idle1 then ($idle20 - $idle1 | show) else "-" end) |",
  "| each alone in a room of its own | \($own | show) |",
  "| a room (own minus 1 room) | \(if $own and $idle1 then ($own - $idle1 | show) else "-" end) |"
  ]
| .[]
