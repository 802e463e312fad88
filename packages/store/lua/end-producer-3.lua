--[[
  Ends a producer-owned session on Relaycast's side: a cancel (by a subscriber or the owner), or the
  producer's idle timeout. The terminal event is appended, so every subscriber ends at once and the
  producer's next publish is refused with the reason.

  KEYS[1] stream      KEYS[2] meta hash      KEYS[3] live channel
  ARGV[1] mode: "cancel" (always ends) or "timeout" (ends only when meta.deadline has passed)
  ARGV[2] terminal type     ARGV[3] terminal data (JSON)
  ARGV[4] MAXLEN            ARGV[5] retention TTL in seconds
  ARGV[6] cancel reason recorded as cancelRequested (mode "cancel")

  Returns { code, value }:
     1  ended; value = the terminal's seq
     0  not due (mode "timeout"): value = the deadline now recorded (0: none)
    -1  the session's metadata does not exist
    -3  the session already ended; value = its status
    -4  not a producer-owned session
]]
local stream, meta, live = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', meta) == 0 then return { -1, 0 } end
local m = redis.call('HMGET', meta, 'producer', 'terminal', 'status', 'seq', 'deadline')
if m[1] ~= '1' then return { -4, 0 } end
if m[2] then return { -3, m[3] or '' } end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == 'timeout' then
  local deadline = tonumber(m[5] or '0')
  if deadline == 0 or deadline > now then return { 0, deadline } end
end
local seq = tonumber(m[4] or '0') + 1
redis.call('XADD', stream, 'MAXLEN', '~', ARGV[4], seq .. '-0', 't', ARGV[2], 'd', ARGV[3])
if ARGV[1] == 'cancel' then redis.call('HSET', meta, 'cancelRequested', ARGV[6]) end
redis.call('HSET', meta, 'seq', seq, 'terminal', seq, 'status', ARGV[2], 'endedAt', now)
redis.call('HDEL', meta, 'deadline')
redis.call('EXPIRE', stream, ARGV[5])
redis.call('EXPIRE', meta, ARGV[5])
redis.call('SPUBLISH', live, table.concat({ tostring(seq), ARGV[2], ARGV[3] }, '\n'))
return { 1, seq }
