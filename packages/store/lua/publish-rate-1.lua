--[[
  Per-API-key publish rate, shared by every edge: a generic cell rate algorithm (GCRA) over events. One
  key holds the theoretical arrival time; a request costing `cost` events is admitted when the bucket,
  refilled at `rate` events per second up to `burst`, holds that many. Exact at every instant, no window
  boundary that lets twice the rate through. The clock is Redis's (TIME), shared by every edge.

  KEYS[1] the key's rate cell (string: theoretical arrival time, µs)
  ARGV[1] events per second     ARGV[2] burst (events)     ARGV[3] cost of this request (events)

  Returns { code, retryAfterMs }:
     1  admitted
    -1  refused; retryAfterMs = when a request of this cost would be admitted
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local interval = 1000000 / rate
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local after = tat + cost * interval
local allowAt = after - burst * interval
if allowAt > now then return { -1, math.max(1, math.ceil((allowAt - now) / 1000)) } end
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.ceil((after - now) / 1000) + 1000)
return { 1, 0 }
