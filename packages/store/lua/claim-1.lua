--[[
  A producer takes over a producer-owned session: the epoch goes up by one, which fences every earlier
  producer's appends (publish-3.lua refuses a lower epoch). The new producer continues after the last
  acknowledged pseq, which this returns.

  KEYS[1] meta hash
  ARGV[1] TTL in seconds while the session is open

  Returns { code, epoch, pseq, deadline }:
     1  claimed; epoch is the new producer's, pseq the last acknowledged one, deadline its new idle deadline
    -1  the session's metadata does not exist
    -3  the session already ended
    -4  not a producer-owned session
]]
local meta = KEYS[1]
if redis.call('EXISTS', meta) == 0 then return { -1, 0, 0, 0 } end
local m = redis.call('HMGET', meta, 'producer', 'terminal', 'pseq', 'idleMs')
if m[1] ~= '1' then return { -4, 0, 0, 0 } end
if m[2] then return { -3, 0, tonumber(m[3] or '0'), 0 } end
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(m[4] or '60000')
local epoch = redis.call('HINCRBY', meta, 'epoch', 1)
redis.call('HSET', meta, 'deadline', deadline)
redis.call('EXPIRE', meta, ARGV[1])
return { 1, epoch, tonumber(m[3] or '0'), deadline }
