--[[
  Admits a new session for an API key, or says which limit refuses it. Both limits are checked before
  either is charged, so a refused request costs the key nothing.

  Sessions created per minute: a sliding log (one entry per session, the last `window` ms), exact at every
  instant, unlike a fixed window that lets twice the limit through around a boundary.
  Running sessions: one entry per session not yet ended, scored with a lease expiry. Whoever ends the
  session removes it (ZREM); if that removal is ever lost, the entry lapses at its expiry, so a key can
  never be locked out for good.

  The clock is Redis's (TIME), shared by every edge, so edges with skewed clocks agree.

  KEYS[1] created log (sorted set)     KEYS[2] running set (sorted set)   (same hash tag: the key id)
  ARGV[1] session id
  ARGV[2] sessions allowed per window
  ARGV[3] window, ms
  ARGV[4] running sessions allowed
  ARGV[5] running lease, ms

  Returns { code, n, retryAfterMs }:
     1  admitted; n = running sessions now
    -1  over the creation rate; retryAfterMs = until the oldest entry leaves the window
    -2  over the running limit; n = running sessions; retryAfterMs = until the earliest lease lapses
]]
local created, running = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[3])

redis.call('ZREMRANGEBYSCORE', created, '-inf', now - window)
if redis.call('ZCARD', created) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', created, 0, 0, 'WITHSCORES')
  return { -1, 0, math.max(1, tonumber(oldest[2]) + window - now) }
end

redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
local n = redis.call('ZCARD', running)
if n >= tonumber(ARGV[4]) then
  local earliest = redis.call('ZRANGE', running, 0, 0, 'WITHSCORES')
  return { -2, n, math.max(1, tonumber(earliest[2]) - now) }
end

redis.call('ZADD', created, now, ARGV[1])
redis.call('PEXPIRE', created, window)
local lease = tonumber(ARGV[5])
redis.call('ZADD', running, now + lease, ARGV[1])
-- The set outlives its longest lease, so it can only expire once every entry in it has lapsed.
if redis.call('PTTL', running) < lease then redis.call('PEXPIRE', running, lease) end
return { 1, n + 1, 0 }
