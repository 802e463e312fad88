--[[
  Admits one event stream to a session in one call: the session's owner and end, then its connection slot
  (slots.lib.lua, prepended to this script). The client address's slot lives on another cluster shard and
  is taken by connect-1.lua in parallel.

  KEYS[1] the session's metadata hash
  KEYS[2] the session's connection hash
  ARGV[1] this edge's id
  ARGV[2] limit (connections to this session over all edges)
  ARGV[3] edge lease, ms
  ARGV[4] key TTL, ms
  ARGV[5] the caller's tenant
  ARGV[6] the client's cursor (last seq it has)
  ARGV[7] 1 to take a slot, 0 to check only (HEAD)
  ARGV[8..] ids of the live edges

  Returns { code, seq }, seq = the session's last appended seq:
     1  admitted (slot taken, or checked only)
     0  refused: the session's connection limit
    -1  no such session (unknown or expired)
    -2  the session belongs to another tenant
    -3  the cursor is at or past the session's terminal event: nothing more will ever be sent
]]
-- requires: slots.lib
local m = redis.call('HMGET', KEYS[1], 'status', 'tenant', 'seq', 'terminal')
if not m[1] then return { -1, 0 } end
local seq = tonumber(m[3] or '0')
if m[2] ~= ARGV[5] then return { -2, seq } end
if m[4] and tonumber(ARGV[6]) >= tonumber(m[4]) then return { -3, seq } end
if ARGV[7] ~= '1' then return { 1, seq } end
local live = {}
for i = 8, #ARGV do live[ARGV[i]] = true end
local r = take_slot(KEYS[2], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), live)
return { r[1], seq }
