"""The Lua scripts of the Redis backend: each is one atomic step on one topic's keys.

Invariant (key order): in a group, a partition stream has at most one entry in its pending
list. ``POLL`` reads a partition's next entry only when its pending list is empty, and an entry
leaves the pending list only by ``XACK`` (ack or term); a nacked entry stays in it (and in the
delayed set) until claimed again, a dead member's entry until it is idle for ``ack_wait``. So
a key's next message is handed out only after the previous one was settled for good, and a
returned one comes back before anything later. Times are the server's (``TIME``), never a
client's clock.
"""

from __future__ import annotations

__all__ = ["ACK", "GROUPS", "IN_PROGRESS", "NACK", "PARTS", "POLL", "PUBLISH"]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

PUBLISH = """
-- KEYS: stream [, dedupe key]   ARGV: max_len, window_ms, channel, field, value, ...
if #KEYS > 1 and not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  return 0
end
local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 4))
if type(added) == 'table' and added.err then
  if #KEYS > 1 then redis.call('DEL', KEYS[2]) end
  return added
end
redis.call('PUBLISH', ARGV[3], '')
return 1
"""

PARTS = """
-- KEYS: parts   ARGV: partitions to record if none are yet
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"""

GROUPS = """
-- KEYS: streams   ARGV: group, the id a new group starts after ('$': the last entry)
for _, stream in ipairs(KEYS) do
  local made = redis.pcall('XGROUP', 'CREATE', stream, ARGV[1], ARGV[2], 'MKSTREAM')
  if type(made) == 'table' and made.err and not string.find(made.err, 'BUSYGROUP') then
    return made
  end
end
return 1
"""

POLL = (
    """
-- KEYS: stream, delayed set, ... per lane   ARGV: group, consumer, ack_wait_ms, credit,
-- scan the unkeyed pending list for stale entries (1/0), then each lane's number (0: unkeyed)
-- Returns: ms until the next delayed entry is due (-1: none), then lane, id, fields,
-- deliveries for each entry handed to this consumer.
local g, c, min_idle = ARGV[1], ARGV[2], tonumber(ARGV[3])
local credit, scan = tonumber(ARGV[4]), ARGV[5] == '1'
"""
    + _NOW
    + """
local out = {-1}

local function claim(s, lane, id, idle)
  local e = redis.call('XCLAIM', s, g, c, idle, id)
  if not e[1] then return false end  -- trimmed away: XCLAIM dropped it from the pending list
  local p = redis.call('XPENDING', s, g, id, id, 1)
  table.insert(out, lane); table.insert(out, id); table.insert(out, e[1][2])
  table.insert(out, p[1][4])
  credit = credit - 1
  return true
end

local function fresh(s, lane, count)
  local r = redis.call('XREADGROUP', 'GROUP', g, c, 'COUNT', count, 'STREAMS', s, '>')
  if not r then return end
  for _, e in ipairs(r[1][2]) do
    table.insert(out, lane); table.insert(out, e[1]); table.insert(out, e[2]); table.insert(out, 1)
    credit = credit - 1
  end
end

local function unkeyed(s, z, lane)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', now, 'LIMIT', 0, credit)) do
    redis.call('ZREM', z, id)
    claim(s, lane, id, 0)
  end
  if scan and credit > 0 then
    local stale = redis.call('XPENDING', s, g, 'IDLE', min_idle, '-', '+', credit + 32)
    for _, e in ipairs(stale) do
      if credit <= 0 then break end
      if not redis.call('ZSCORE', z, e[1]) then claim(s, lane, e[1], min_idle) end
    end
  end
  if credit > 0 then fresh(s, lane, credit) end
end

local function partition(s, z, lane)
  local summary = redis.call('XPENDING', s, g)
  if summary[1] == 0 then return fresh(s, lane, 1) end
  local id = summary[2]  -- the only one (see the invariant)
  local due = redis.call('ZSCORE', z, id)
  if due then
    if tonumber(due) <= now then
      redis.call('ZREM', z, id)
      claim(s, lane, id, 0)
    end
  elseif redis.call('XPENDING', s, g, 'IDLE', min_idle, id, id, 1)[1] then
    claim(s, lane, id, min_idle)  -- its member stopped reporting: presumed dead
  end
end

local lanes = #KEYS / 2
local next_due = nil
for i = 1, lanes do
  local s, z, lane = KEYS[2 * i - 1], KEYS[2 * i], tonumber(ARGV[5 + i])
  if credit > 0 then
    if lane == 0 then unkeyed(s, z, lane) else partition(s, z, lane) end
  end
  local first = redis.call('ZRANGE', z, 0, 0, 'WITHSCORES')
  if first[2] then
    local d = tonumber(first[2])
    if next_due == nil or d < next_due then next_due = d end
  end
end
if next_due then out[1] = math.max(0, next_due - now) end
return out
"""
)

NACK = (
    """
-- KEYS: delayed set   ARGV: id, delay_ms, channel
"""
    + _NOW
    + """
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
if ARGV[2] == '0' then redis.call('PUBLISH', ARGV[3], '') end
return 1
"""
)

ACK = """
-- KEYS: streams   ARGV: group, channel ('' when nobody waits for these settlements), then
-- pairs of (index into KEYS, entry id): every settlement batched since the last call
for i = 3, #ARGV, 2 do
  redis.call('XACK', KEYS[tonumber(ARGV[i])], ARGV[1], ARGV[i + 1])
end
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], '') end
return 1
"""

IN_PROGRESS = """
-- KEYS: stream   ARGV: group, consumer, id
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p[1] and p[1][2] == ARGV[2] then
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
  return 1
end
return 0
"""
