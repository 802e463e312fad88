--[[
  An edge's heartbeat: records that it is alive and returns every edge that is. Connection counts
  (connect-1.lua) of an edge missing from this list stop counting once their lease passes.

  KEYS[1] registry of edges (sorted set, score = last heartbeat, ms)
  ARGV[1] this edge's id
  ARGV[2] lease, ms (an edge silent for longer is dead)

  Returns the ids of the live edges, this one included.
]]
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZADD', key, now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - lease)
redis.call('PEXPIRE', key, lease * 2)
return redis.call('ZRANGE', key, 0, -1)
