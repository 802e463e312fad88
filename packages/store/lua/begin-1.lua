--[[
  A worker takes ownership of a session for a new attempt. Bumping `attempt` fences off every earlier
  attempt's appends (see append-3.lua).

  KEYS[1] meta hash
  ARGV[1] now, ms since epoch
  ARGV[2] TTL in seconds while the session is open

  Returns { code, attempt, seq, cancelRequested }:
     1  began; attempt is this worker's fence token, seq the last appended seq
    -1  the session's metadata does not exist
    -3  the session already ended
]]
local meta = KEYS[1]
if redis.call('EXISTS', meta) == 0 then return { -1, 0, 0, 0 } end
local m = redis.call('HMGET', meta, 'terminal', 'seq', 'cancelRequested')
if m[1] then return { -3, 0, tonumber(m[2] or '0'), 0 } end
local attempt = redis.call('HINCRBY', meta, 'attempt', 1)
redis.call('HSET', meta, 'status', 'running', 'startedAt', ARGV[1])
redis.call('EXPIRE', meta, ARGV[2])
return { 1, attempt, tonumber(m[2] or '0'), m[3] and 1 or 0 }
