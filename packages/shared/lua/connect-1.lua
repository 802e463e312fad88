--[[
  Takes one SSE connection slot of a subject (a client address or a session) for this edge, if the total
  over all live edges is under the limit.

  The hash holds, per edge, `c:<edge>` = its open connections and `t:<edge>` = when it last changed them.
  An edge that dies (SIGKILL, lost host) cannot release its connections, so its count must stop counting
  by itself: a count counts only while its edge is live (listed in ARGV, from the heartbeat registry of
  edges-1.lua) or was changed within the lease (an edge that started a moment ago may not be in the
  caller's list yet). A count untouched for longer than the key's TTL is deleted: every connection it
  counted has ended by then (a connection lives at most one token lifetime).

  KEYS[1] the subject's connection hash
  ARGV[1] this edge's id
  ARGV[2] limit (connections over all edges)
  ARGV[3] edge lease, ms
  ARGV[4] key TTL, ms (longer than any connection can live)
  ARGV[5..] ids of the live edges

  Returns { code, total }:
     1  taken; total = connections now, this one included
     0  refused; total = connections counted
]]
local key, me = KEYS[1], ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local live = {}
for i = 5, #ARGV do live[ARGV[i]] = true end

local h = redis.call('HGETALL', key)
local fields = {}
for i = 1, #h, 2 do fields[h[i]] = h[i + 1] end
local total = 0
for f, v in pairs(fields) do
  if string.sub(f, 1, 2) == 'c:' then
    local edge = string.sub(f, 3)
    local age = now - tonumber(fields['t:' .. edge] or '0')
    if edge == me or live[edge] or age < lease then
      total = total + math.max(0, tonumber(v))
    elseif age > ttl then
      redis.call('HDEL', key, f, 't:' .. edge)
    end
  end
end
if total >= tonumber(ARGV[2]) then return { 0, total } end
redis.call('HINCRBY', key, 'c:' .. me, 1)
redis.call('HSET', key, 't:' .. me, now)
redis.call('PEXPIRE', key, ttl)
return { 1, total + 1 }
