--[[
  Not a script: prepended (by scripts.ts, on their `-- requires: slots.lib` line) to connect-1.lua and subscribe-2.lua, which both count SSE
  connection slots this way.

  A connection hash holds, per edge, `c:<edge>` = its open connections and `t:<edge>` = when it last changed
  them. An edge that dies (SIGKILL, lost host) cannot release its connections, so its count must stop
  counting by itself: a count counts only while its edge is live (listed by the caller, from the heartbeat
  registry of edges-1.lua) or was changed within the lease (an edge that started a moment ago may not be in
  the caller's list yet). A count untouched for longer than the key's TTL is deleted: every connection it
  counted has ended by then (a connection lives at most one token lifetime).
]]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Returns { code, total }: 1 taken (total includes it), 0 refused (total = connections counted).
local function take_slot(key, me, limit, lease, ttl, live)
  local now = now_ms()
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
  if total >= limit then return { 0, total } end
  redis.call('HINCRBY', key, 'c:' .. me, 1)
  redis.call('HSET', key, 't:' .. me, now)
  redis.call('PEXPIRE', key, ttl)
  return { 1, total + 1 }
end
