--[[
  Gives back one SSE connection slot of a subject taken by connect-1.lua on this edge.

  KEYS[1] the subject's connection hash
  ARGV[1] this edge's id

  Returns the edge's remaining count (0 once its fields are gone). A count that another edge already
  deleted (this edge was presumed dead) is not driven negative.
]]
local key, me = KEYS[1], ARGV[1]
local c = redis.call('HINCRBY', key, 'c:' .. me, -1)
if c <= 0 then
  redis.call('HDEL', key, 'c:' .. me, 't:' .. me)
  return 0
end
local t = redis.call('TIME')
redis.call('HSET', key, 't:' .. me, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return c
