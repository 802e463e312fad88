--[[
  One request against a subject's rate (a client address, a token), as a generic cell rate algorithm:
  the key holds the subject's theoretical arrival time, so the cost is one short string per subject, the
  same whatever the rate. A subject may send `burst` requests at once, then one per `interval`; in any
  minute it gets at most burst + (a minute / interval) through. A refused request does not count.

  The clock is Redis's (TIME), shared by every edge, so edges with skewed clocks agree.

  KEYS[1] the subject's rate key (string: theoretical arrival time, ms)
  ARGV[1] emission interval, ms (a minute / requests per minute; may be fractional)
  ARGV[2] burst: requests allowed at once (>= 1)

  Returns { code, retryAfterMs }:
     1  allowed
     0  refused; retryAfterMs = until the next request would be allowed
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local ahead = tat - now
local tolerance = (burst - 1) * interval
if ahead > tolerance then
  return { 0, math.max(1, math.ceil(ahead - tolerance)) }
end
tat = tat + interval
-- The key lapses once the subject is back to a full burst: an idle subject costs nothing.
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
return { 1, 0 }
