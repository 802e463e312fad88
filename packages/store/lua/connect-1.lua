--[[
  Takes one SSE connection slot of a subject (a client address or a session) for this edge, if the total
  over all live edges is under the limit. How slots are counted: slots.lib.lua (prepended to this script).

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
-- requires: slots.lib
local live = {}
for i = 5, #ARGV do live[ARGV[i]] = true end
return take_slot(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), live)
