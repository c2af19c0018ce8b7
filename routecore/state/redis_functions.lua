#!lua name=__LIBRARY__
--[[
The server side of routecore's Redis state store (routecore/state/redis.py, docs/state-redis.md).

Every read-modify-write of the store is one of these functions: Redis runs a function whole,
with no other command in between, so two claims never both take the last free lease. Every key
a function touches is passed in KEYS (a Redis Cluster needs them in one slot: give the store a
prefix with a hash tag, such as "{rc}:").

Times of leases are the server's (TIME), never a host's clock: hosts whose clocks differ still
agree on when a lease has expired. A lease is live while its deadline (unix milliseconds, its
score in the destination's sorted set) is >= now.

Keys (P = the store's prefix):
  P.."seq"           fencing tokens (INCR; a missing key starts at server-time microseconds, so
                     a Redis that lost its data never hands out a token it handed out before)
  P.."dests"         set of the destination numbers
  P.."d:"..number    hash: capacity, online (1/0), offered, answered, unanswered, talk,
                     and "o:"..token = the owner of each lease
  P.."l:"..number    sorted set: member token, score deadline (unix ms, server time)

The library's name and its functions' prefix carry a digest of this text (routecore/state/
redis_link.py fills in __LIBRARY__ and __F__ when it loads it): processes of two routecore
versions sharing one Redis each load and call their own functions, never the other's; a library
under routecore's name whose code is not this one is replaced, never used.
]]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(x)
  return string.format('%d', x)
end

-- Drop the expired leases of one destination (and their owners); how many.
local function drop_expired(dk, lk, now)
  local gone = redis.call('ZRANGEBYSCORE', lk, '-inf', '(' .. int(now))
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', lk, '-inf', '(' .. int(now))
    for i, token in ipairs(gone) do
      gone[i] = 'o:' .. token
    end
    redis.call('HDEL', dk, unpack(gone))
  end
  return #gone
end

-- Insert a destination unknown so far (capacity, online); an existing one is left as it is.
local function ensure(dk, dests, number, capacity, online)
  if redis.call('EXISTS', dk) == 0 then
    redis.call('HSET', dk, 'capacity', capacity, 'online', online)
    redis.call('SADD', dests, number)
  end
end

-- KEYS: seq, dests, then d:n, l:n per candidate.
-- ARGV: lease ms, all (1/0), owner, then the candidates (distinct).
-- Returns nil (none had room) or {token, number, ...}: the numbers leased.
local function claim(keys, args)
  local now = now_ms()
  local deadline = now + tonumber(args[1])
  local all = args[2] == '1'
  local owner = args[3]
  local token = nil
  local got = {}
  for i = 4, #args do
    local number = args[i]
    local c = i - 3
    local dk, lk = keys[2 * c + 1], keys[2 * c + 2]
    ensure(dk, keys[2], number, 1, 1)
    local f = redis.call('HMGET', dk, 'capacity', 'online')
    if f[2] == '1' then
      drop_expired(dk, lk, now)
      if redis.call('ZCARD', lk) < (tonumber(f[1]) or 1) then
        if token == nil then
          token = redis.call('INCR', keys[1])
          if token == 1 then
            token = now * 1000
            redis.call('SET', keys[1], int(token))
          end
          token = int(token)
        end
        redis.call('ZADD', lk, int(deadline), token)
        redis.call('HSET', dk, 'o:' .. token, owner)
        got[#got + 1] = number
        if not all then
          break
        end
      end
    end
  end
  if token == nil then
    return nil
  end
  table.insert(got, 1, token)
  return got
end

-- KEYS: d:n, l:n per destination. ARGV: token. How many of its leases were freed.
local function release(keys, args)
  local token = args[1]
  local freed = 0
  for c = 1, #keys / 2 do
    local dk, lk = keys[2 * c - 1], keys[2 * c]
    if redis.call('ZREM', lk, token) == 1 then
      redis.call('HDEL', dk, 'o:' .. token)
      freed = freed + 1
    end
  end
  return freed
end

-- KEYS: d:n, l:n per destination. ARGV: token, seconds as ms. Deadline of every lease the
-- token still holds := now + ms; how many.
local function extend(keys, args)
  local token = args[1]
  local deadline = int(now_ms() + tonumber(args[2]))
  local done = 0
  for c = 1, #keys / 2 do
    local lk = keys[2 * c]
    if redis.call('ZSCORE', lk, token) then
      redis.call('ZADD', lk, 'XX', deadline, token)
      done = done + 1
    end
  end
  return done
end

-- KEYS: dests, then d:n, l:n per destination. ARGV: token, seconds as ms, owner, then the
-- numbers. A keep-alive's leases that Redis no longer has (a restart that lost its data, or a
-- lease that expired while its call went on): each is taken again when the destination has
-- room (capacity; online or not: its agent is talking), else it is lost to another call.
-- Returns {re-asserted, lost}.
local function reassert(keys, args)
  local token, owner = args[1], args[3]
  local now = now_ms()
  local deadline = int(now + tonumber(args[2]))
  local back, lost = 0, 0
  for i = 4, #args do
    local c = i - 3
    local dk, lk = keys[2 * c], keys[2 * c + 1]
    if not redis.call('ZSCORE', lk, token) then
      ensure(dk, keys[1], args[i], 1, 1)
      drop_expired(dk, lk, now)
      local capacity = tonumber(redis.call('HGET', dk, 'capacity')) or 1
      if redis.call('ZCARD', lk) < capacity then
        redis.call('ZADD', lk, deadline, token)
        redis.call('HSET', dk, 'o:' .. token, owner)
        back = back + 1
      else
        lost = lost + 1
      end
    end
  end
  return {back, lost}
end

-- KEYS: d:n, l:n per destination. How many expired leases were dropped.
local function reap(keys, args)
  local now = now_ms()
  local n = 0
  for c = 1, #keys / 2 do
    n = n + drop_expired(keys[2 * c - 1], keys[2 * c], now)
  end
  return n
end

-- KEYS: d:n, l:n per destination. ARGV: owner. Free every lease of this owner (a claim whose
-- reply never came back: the call knows its owner, not its token); how many.
local function forget(keys, args)
  local owner = args[1]
  local n = 0
  for c = 1, #keys / 2 do
    local dk, lk = keys[2 * c - 1], keys[2 * c]
    local fields = redis.call('HGETALL', dk)
    for i = 1, #fields, 2 do
      local name = fields[i]
      if string.sub(name, 1, 2) == 'o:' and fields[i + 1] == owner then
        redis.call('ZREM', lk, string.sub(name, 3))
        redis.call('HDEL', dk, name)
        n = n + 1
      end
    end
  end
  return n
end

-- KEYS: d:n, l:n per destination. Per destination: {} when unknown, else
-- {capacity, online, offered, answered, unanswered, talk, busy}.
local function destinations(keys, args)
  local now = now_ms()
  local out = {}
  for c = 1, #keys / 2 do
    local dk, lk = keys[2 * c - 1], keys[2 * c]
    if redis.call('EXISTS', dk) == 0 then
      out[c] = {}
    else
      local f = redis.call('HMGET', dk, 'capacity', 'online', 'offered', 'answered',
        'unanswered', 'talk')
      for i = 1, 6 do
        f[i] = tonumber(f[i]) or 0
      end
      f[7] = redis.call('ZCOUNT', lk, int(now), '+inf')
      out[c] = f
    end
  end
  return out
end

-- KEYS: d:n, l:n per number. 1 when the number has room now (online, fewer live leases than
-- its capacity) or is unknown, else 0.
local function idle(keys, args)
  local now = now_ms()
  local out = {}
  for c = 1, #keys / 2 do
    local dk, lk = keys[2 * c - 1], keys[2 * c]
    local f = redis.call('HMGET', dk, 'capacity', 'online')
    if not f[1] then
      out[c] = 1
    elseif f[2] == '1' and redis.call('ZCOUNT', lk, int(now), '+inf') < (tonumber(f[1]) or 1) then
      out[c] = 1
    else
      out[c] = 0
    end
  end
  return out
end

-- KEYS: d:n, l:n. The live leases of one destination: {token, deadline ms, owner, ...} and
-- the server's time (ms) first.
local function leases(keys, args)
  local now = now_ms()
  local out = {int(now)}
  local held = redis.call('ZRANGEBYSCORE', keys[2], int(now), '+inf', 'WITHSCORES')
  for i = 1, #held, 2 do
    out[#out + 1] = held[i]
    out[#out + 1] = held[i + 1]
    out[#out + 1] = redis.call('HGET', keys[1], 'o:' .. held[i]) or ''
  end
  return out
end

-- KEYS: d:n, dests. ARGV: what (add, online, capacity), number, value[, online].
-- add: insert or update (capacity, online); online/capacity: set it on a known destination.
-- 1 done, 0 unknown destination.
local function set(keys, args)
  local dk, what = keys[1], args[1]
  if what == 'add' then
    redis.call('HSET', dk, 'capacity', args[3], 'online', args[4])
    redis.call('SADD', keys[2], args[2])
    return 1
  end
  if redis.call('EXISTS', dk) == 0 then
    return 0
  end
  redis.call('HSET', dk, what, args[3])
  return 1
end

-- KEYS: d:n, dests. ARGV: number, answered (1/0), talk seconds. One attempt counted; an
-- unknown destination is inserted (capacity 1, online) first, as a claim does.
local function attempt(keys, args)
  local dk = keys[1]
  ensure(dk, keys[2], args[1], 1, 1)
  redis.call('HINCRBY', dk, 'offered', 1)
  redis.call('HINCRBY', dk, args[2] == '1' and 'answered' or 'unanswered', 1)
  if tonumber(args[3]) > 0 then
    redis.call('HINCRBY', dk, 'talk', args[3])
  end
  return 1
end

-- KEYS: the day's counter hash. ARGV: branch, expire at (unix seconds). One count.
local function count(keys, args)
  redis.call('HINCRBY', keys[1], args[1], 1)
  redis.call('EXPIREAT', keys[1], args[2])
  return 1
end

-- KEYS: the lead's key. ARGV: this host, milliseconds. The lead taken when nobody holds it,
-- renewed when this host does (one step: between a GET and a PEXPIRE of the client's the lead
-- could expire and pass to another host, whose lead the PEXPIRE would then prolong). 1 if this
-- host holds it now.
local function lead(keys, args)
  if redis.call('SET', keys[1], args[1], 'NX', 'PX', args[2]) then
    return 1
  end
  if redis.call('GET', keys[1]) == args[1] then
    redis.call('PEXPIRE', keys[1], args[2])
    return 1
  end
  return 0
end

redis.register_function('__F__claim', claim)
redis.register_function('__F__release', release)
redis.register_function('__F__extend', extend)
redis.register_function('__F__reap', reap)
redis.register_function('__F__reassert', reassert)
redis.register_function('__F__forget', forget)
redis.register_function('__F__set', set)
redis.register_function('__F__attempt', attempt)
redis.register_function('__F__count', count)
redis.register_function('__F__lead', lead)
redis.register_function{function_name = '__F__destinations', callback = destinations,
  flags = {'no-writes'}}
redis.register_function{function_name = '__F__idle', callback = idle, flags = {'no-writes'}}
redis.register_function{function_name = '__F__leases', callback = leases, flags = {'no-writes'}}
