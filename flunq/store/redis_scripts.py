"""Lua scripts of the Redis store: each multi-key write is one atomic script call.

Scripts are called by SHA (EVALSHA). A server that does not know a script (it restarted,
or someone ran SCRIPT FLUSH) answers NOSCRIPT; :class:`Script` then loads it again and
repeats the call, which is safe because a NOSCRIPT call did nothing.

Execution hash fields (``<base>:e:<id>``): ``row`` (msgpack record), ``seq``, ``member``
(``created_at\\0id``, its member in the list indexes) and ``ix`` (the index keys it is in,
newline separated). Small numbers travel as one comma-separated argument: every argument
costs client-side packing, which dominates a pipelined commit.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

# Shared by CREATE and COMMIT: writes the index row and moves it between index sets.
_WRITE_ROW = """
local function write_row(ekey, akey, seq, row, member, ix, active, amember)
  local old = redis.call('HMGET', ekey, 'member', 'ix')
  if old[1] ~= member or old[2] ~= ix then
    if old[1] then
      for k in string.gmatch(old[2], '[^\\n]+') do redis.call('ZREM', k, old[1]) end
    end
    for k in string.gmatch(ix, '[^\\n]+') do redis.call('ZADD', k, 0, member) end
  end
  if active == 1 then
    redis.call('ZADD', akey, 0, amember)
  else
    redis.call('ZREM', akey, amember)
  end
  redis.call('HSET', ekey, 'seq', seq, 'row', row, 'member', member, 'ix', ix)
end

local function numbers(csv)
  local out = {}
  for v in string.gmatch(csv, '[^,]+') do out[#out + 1] = tonumber(v) end
  return out
end
"""

# KEYS: exec hash, journal, idempotency hash, active set.
# ARGV: "has key,active", key, id, first entry, seq, row, member, ix, active member.
CREATE = (
    _WRITE_ROW
    + """
local h = numbers(ARGV[1])
if h[1] == 1 then
  local found = redis.call('HGET', KEYS[3], ARGV[2])
  if found then return {1, found} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {2} end
write_row(KEYS[1], KEYS[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], h[2], ARGV[9])
redis.call('RPUSH', KEYS[2], ARGV[4])
if h[1] == 1 then redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) end
return {0}
"""
)

# KEYS: exec hash, journal, snapshot hash, active set, timers, leases, listeners hash,
#       the execution's listener-field set.
# ARGV: "expected,entries,timers set,timers cancelled,listeners set,listeners cancelled,
#       has snapshot,active", seq, row, member, ix, active member, snapshot, then the lists:
#       entries, (timer member, due) pairs, timer members, (field, listener) pairs, fields.
COMMIT = (
    _WRITE_ROW
    + """
local h = numbers(ARGV[1])
local cur = redis.call('HGET', KEYS[1], 'seq')
if not cur then return {1} end
if tonumber(cur) ~= h[1] then return {2, cur} end
write_row(KEYS[1], KEYS[4], ARGV[2], ARGV[3], ARGV[4], ARGV[5], h[8], ARGV[6])
local i = 8
for _ = 1, h[2] do redis.call('RPUSH', KEYS[2], ARGV[i]); i = i + 1 end
if h[7] == 1 then redis.call('HSET', KEYS[3], 'seq', ARGV[2], 'state', ARGV[7]) end
for _ = 1, h[3] do
  redis.call('ZADD', KEYS[5], ARGV[i + 1], ARGV[i])
  redis.call('HDEL', KEYS[6], ARGV[i])
  i = i + 2
end
for _ = 1, h[4] do
  redis.call('ZREM', KEYS[5], ARGV[i]); redis.call('HDEL', KEYS[6], ARGV[i]); i = i + 1
end
for _ = 1, h[5] do
  redis.call('HSET', KEYS[7], ARGV[i], ARGV[i + 1]); redis.call('SADD', KEYS[8], ARGV[i])
  i = i + 2
end
for _ = 1, h[6] do
  redis.call('HDEL', KEYS[7], ARGV[i]); redis.call('SREM', KEYS[8], ARGV[i]); i = i + 1
end
if h[8] ~= 1 then
  for _, f in ipairs(redis.call('SMEMBERS', KEYS[8])) do redis.call('HDEL', KEYS[7], f) end
  redis.call('DEL', KEYS[8])
end
return {0}
"""
)

# KEYS: exec hash, snapshot hash, journal. -> {} | {row, snapshot seq, state, tail, has}
LOAD = """
local row = redis.call('HGET', KEYS[1], 'row')
if not row then return {} end
local s = redis.call('HMGET', KEYS[2], 'seq', 'state')
if not s[1] then return {row, '0', '', redis.call('LRANGE', KEYS[3], 0, -1), '0'} end
return {row, s[1], s[2], redis.call('LRANGE', KEYS[3], tonumber(s[1]), -1), '1'}
"""

# KEYS: exec hash, journal. ARGV: start, stop (LRANGE indexes). -> {0} | {1, entries}
JOURNAL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
return {1, redis.call('LRANGE', KEYS[2], ARGV[1], ARGV[2])}
"""

# KEYS: a list index. ARGV: max, min (ZREVRANGEBYLEX bounds), limit, exec key prefix, then
# the other index keys a row must also be in (the other filters). -> rows, newest first.
LIST = """
local out, offset, limit = {}, 0, tonumber(ARGV[3])
while #out < limit do
  local members = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', offset, 200)
  if #members == 0 then break end
  offset = offset + #members
  for _, m in ipairs(members) do
    local ok = true
    for j = 5, #ARGV do
      if not redis.call('ZSCORE', ARGV[j], m) then ok = false; break end
    end
    if ok then
      local id = string.sub(m, string.find(m, '\\0', 1, true) + 1)
      local row = redis.call('HGET', ARGV[4] .. id, 'row')
      if row then out[#out + 1] = row end
      if #out >= limit then break end
    end
  end
end
return out
"""

# KEYS: timers, leases. ARGV: now, limit, lease until. -> {member, due, member, due...}
CLAIM = """
local out, offset = {}, 0
local now, want = tonumber(ARGV[1]), 2 * tonumber(ARGV[2])
while #out < want do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES',
    'LIMIT', offset, 200)
  if #batch == 0 then break end
  offset = offset + #batch / 2
  for i = 1, #batch, 2 do
    local lease = redis.call('HGET', KEYS[2], batch[i])
    if (not lease) or tonumber(lease) <= now then
      redis.call('HSET', KEYS[2], batch[i], ARGV[3])
      out[#out + 1] = batch[i]; out[#out + 1] = batch[i + 1]
      if #out >= want then break end
    end
  end
end
return out
"""

# KEYS: definition hash, names set. ARGV: names member, all ('1'/'0'), version.
DELETE_DEFINITION = """
local n
if ARGV[2] == '1' then
  n = redis.call('HLEN', KEYS[1]); redis.call('DEL', KEYS[1])
else
  n = redis.call('HDEL', KEYS[1], ARGV[3])
end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return n
"""


class Script:
    """A Lua script called by SHA, loaded again when the server lost it."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.sha = hashlib.sha1(body.encode()).hexdigest()

    async def load(self, client: Redis) -> None:
        await client.script_load(self.body)

    async def __call__(self, client: Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.load(client)
            return await client.evalsha(self.sha, len(keys), *keys, *args)
