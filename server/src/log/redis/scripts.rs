//! The Lua scripts of the Redis log: each is one atomic step on one room's
//! keys (they share its hash tag), so instances never see half of one.
//!
//! A room's keys: `seq` (the newest `seq` given out), `log` (the stream of
//! events: entry `N-0` is the event with `seq` N), `messages` (a hash of
//! each held message's current state, JSON, by id: what pages of history
//! are read from), `ids` (the ids in `messages`, a sorted set, trimmed to
//! `--redis-max-len` with the stream) and `sent:...` (resend memory). A
//! message's state holds its author's key, which is never sent to anyone;
//! numbers in it are strings, as Lua's JSON would round them.

/// KEYS: seq, log, sent, directory, messages, ids. ARGV: user, msg,
/// clientId, max length, resend memory (s), room, author key ('' for
/// none), replyTo ('' for none), mentions (one per line, '' for none),
/// claimed ('1' for a claimed name's, '' otherwise), the state of the
/// message it answers as read ('' for none), '1' if it may not answer it
/// ('' otherwise): that was decided in Rust (`protocol::check_reply`).
/// Returns {'stored', id, time},
/// {'duplicate', id, time, state ('' once trimmed), msg (releases before
/// events kept it here), author key ('' for none, or from releases
/// before it was kept here)}: whether it is a resend is the caller's to
/// decide (`NewMessage::resends`), the same rule as SQLite's; {'refused'}
/// (a reply decided against, and no resend); or {'moved'} when the
/// message it answers changed since it was read (decide again).
pub(super) const APPEND: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local earlier = redis.call('HMGET', KEYS[3], 'id', 'dateTime', 'msg', 'author')
if earlier[1] then
  local state = redis.call('HGET', KEYS[5], earlier[1])
  return {'duplicate', earlier[1], earlier[2], state or '', earlier[3] or '', earlier[4] or ''}
end
if ARGV[12] == '1' then return {'refused'} end
if ARGV[8] ~= '' and (redis.call('HGET', KEYS[5], ARGV[8]) or '') ~= ARGV[11] then return {'moved'} end
local clock = redis.call('TIME')
local at = string.format('%d', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
local id = (tonumber(redis.call('GET', KEYS[1])) or 0) + 1
local fields = {'kind', 'message', 'user', ARGV[1], 'msg', ARGV[2], 'clientId', ARGV[3], 'dateTime', at}
local state = {user = ARGV[1], msg = ARGV[2], clientId = ARGV[3], dateTime = at, author = ARGV[7]}
if ARGV[8] ~= '' then
  table.insert(fields, 'replyTo'); table.insert(fields, ARGV[8]); state.replyTo = ARGV[8]
end
if ARGV[9] ~= '' then
  table.insert(fields, 'mentions'); table.insert(fields, ARGV[9]); state.mentions = ARGV[9]
end
if ARGV[10] ~= '' then
  table.insert(fields, 'claimed'); table.insert(fields, ARGV[10]); state.claimed = ARGV[10]
end
-- The append first: if it fails, nothing has changed.
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], string.format('%d-0', id), unpack(fields))
redis.call('SET', KEYS[1], id)
redis.call('HSET', KEYS[5], id, cjson.encode(state))
redis.call('ZADD', KEYS[6], id, id)
local excess = redis.call('ZCARD', KEYS[6]) - tonumber(ARGV[4])
if excess > 0 then
  local gone = redis.call('ZPOPMIN', KEYS[6], excess)
  for i = 1, #gone, 2 do redis.call('HDEL', KEYS[5], gone[i]) end
end
-- No text here: a deleted message's must not outlive it.
redis.call('HSET', KEYS[3], 'id', id, 'dateTime', at, 'author', ARGV[7])
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('ZADD', KEYS[4], at, ARGV[6])
return {'stored', tostring(id), at}
";

/// KEYS: seq, log, messages, directory. ARGV: the message's id, its
/// state as the change was decided on, its new state, the state's fields
/// that take the append's time (space-separated, '' for none), the field
/// that takes the entry's id ('' for none), the stream entries to delete
/// (space-separated, '' for none), max length, room, then the entry's
/// fields and values (the script adds `dateTime`). Appends the entry as the
/// room's `seq` + 1 and writes the new state, only if the message is still
/// as it was read: the script knows no rule, the decision was made in Rust
/// on what it read (`RedisLog::change`). Returns {'stored', seq, time}, or
/// {'moved'} (read and decide again).
pub(super) const CHANGE_IF_UNCHANGED: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return {'moved'} end
local clock = redis.call('TIME')
local at = string.format('%d', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
local seq = (tonumber(redis.call('GET', KEYS[1])) or 0) + 1
local entry = string.format('%d-0', seq)
local fields = {'dateTime', at}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
-- The append first: if it fails, nothing has changed.
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[7], entry, unpack(fields))
redis.call('SET', KEYS[1], seq)
for gone in string.gmatch(ARGV[6], '%S+') do redis.call('XDEL', KEYS[2], gone) end
local state = ARGV[3]
if ARGV[4] ~= '' or ARGV[5] ~= '' then
  state = cjson.decode(state)
  for field in string.gmatch(ARGV[4], '%S+') do state[field] = at end
  if ARGV[5] ~= '' then state[ARGV[5]] = entry end
  state = cjson.encode(state)
end
redis.call('HSET', KEYS[3], ARGV[1], state)
redis.call('ZADD', KEYS[4], at, ARGV[8])
return {'stored', tostring(seq), at}
";

/// KEYS: seq, log, directory, rules, and the keys releases up to
/// 2026-12-07 kept rules in (locked, mutes). ARGV: the rules' JSON as
/// read ('' for none), their new JSON, max length, room, then the
/// entry's fields and values (the script adds `dateTime`). Appends a
/// moderator's action as the room's `seq` + 1 and writes the room's rules
/// whole, only if they are still as read: the script knows no action's
/// meaning (`protocol::RoomRules::apply` in Rust does). Returns
/// {'stored', seq, time}, or {'moved'} (read and apply again).
pub(super) const MODERATE: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
if (redis.call('GET', KEYS[4]) or '') ~= ARGV[1] then return {'moved'} end
local clock = redis.call('TIME')
local at = string.format('%d', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000))
local seq = (tonumber(redis.call('GET', KEYS[1])) or 0) + 1
local fields = {'dateTime', at}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], string.format('%d-0', seq), unpack(fields))
redis.call('SET', KEYS[1], seq)
redis.call('SET', KEYS[4], ARGV[2])
redis.call('DEL', KEYS[5], KEYS[6])
redis.call('ZADD', KEYS[3], at, ARGV[4])
return {'stored', tostring(seq), at}
";

/// KEYS: ids, messages. ARGV: the highest score to read ('(N' for ids
/// below N, or '+inf'), how many. Returns, newest first, id, state and the
/// state of the message it answers ('' for none) for each message.
pub(super) const READ_MESSAGES: &str = r"
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local state = redis.call('HGET', KEYS[2], id)
  if state then
    local reply = cjson.decode(state).replyTo
    local quoted = reply and redis.call('HGET', KEYS[2], reply) or ''
    table.insert(out, id); table.insert(out, state); table.insert(out, quoted)
  end
end
return out
";

/// KEYS: log, messages, ids. Builds the message state of a stream written
/// by a release before events (its entries are all messages), once.
/// Returns how many messages it found.
pub(super) const BACKFILL: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local found = 0
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local id = string.match(entry[1], '^(%d+)-')
  local f = {}
  for i = 1, #entry[2], 2 do f[entry[2][i]] = entry[2][i + 1] end
  if f.kind == nil or f.kind == 'message' then
    redis.call('HSET', KEYS[2], id, cjson.encode({user = f.user, msg = f.msg,
      clientId = f.clientId, dateTime = f.dateTime, author = ''}))
    redis.call('ZADD', KEYS[3], id, id)
    found = found + 1
  end
end
return found
";

/// KEYS: ids, messages, log. ARGV: a time (ms since the epoch), most
/// messages to look at. Removes the room's oldest messages posted before
/// that time (`--retain-days`): their state, their id, and their stream
/// entries with text (the post's and its newest edit's; the caller takes
/// the other changes about them out of the stream). Returns how many it
/// removed and the newest id among them (0 for none).
pub(super) const RETAIN: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local removed = 0
local last = 0
for _, id in ipairs(ids) do
  local state = redis.call('HGET', KEYS[2], id)
  if state then
    local fields = cjson.decode(state)
    if tonumber(fields.dateTime) >= tonumber(ARGV[1]) then break end
    redis.call('XDEL', KEYS[3], id .. '-0')
    if fields.edits then
      for entry in string.gmatch(fields.edits, '%S+') do redis.call('XDEL', KEYS[3], entry) end
    end
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
  removed = removed + 1
  last = tonumber(id)
end
return {removed, last}
";
