--[[
  Records a cancel request and tells the worker that runs the session (if any) over the control channel.

  KEYS[1] meta hash      KEYS[2] control channel
  ARGV[1] reason

  Returns { code, status, attempt, seq, watchers }:
     1  recorded; status is the session's status at that moment; watchers is how many connections got the
        notification (SPUBLISH's count): 0 means no worker is running the session at this moment
    -1  the session's metadata does not exist
    -3  the session already ended (nothing to cancel)
]]
local meta = KEYS[1]
if redis.call('EXISTS', meta) == 0 then return { -1, '', 0, 0, 0 } end
local m = redis.call('HMGET', meta, 'terminal', 'status', 'attempt', 'seq')
if m[1] then return { -3, m[2] or '', 0, 0, 0 } end
redis.call('HSET', meta, 'cancelRequested', ARGV[1])
local watchers = redis.call('SPUBLISH', KEYS[2], ARGV[1])
return { 1, m[2] or '', tonumber(m[3] or '0'), tonumber(m[4] or '0'), watchers }
