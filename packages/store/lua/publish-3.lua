--[[
  A producer appends a batch of its own events to a producer-owned session (issue 20), atomically with its
  idempotency and fencing checks.

  Idempotent: every event the producer sends has a producer seq (pseq: 1, 2, 3 … per session). The batch
  names the pseqs it covers; one whose pseqs were all acknowledged already is a retry and changes nothing.
  Fenced: only the producer holding the current epoch (meta.epoch, raised by claim-1.lua) may append, so two
  producers racing on one session are told, never interleaved. The stored events get the session's own
  seqs (meta.seq + 1 …): subscribers cannot tell them from generated ones. The events given here are the
  output of the session's processors, so their count may differ from the pseqs they cover.

  KEYS[1] stream      KEYS[2] meta hash      KEYS[3] live channel
  ARGV[1] producer epoch
  ARGV[2] first pseq of this batch
  ARGV[3] number of pseqs the batch covers (0: a keep-alive that only proves the producer is there)
  ARGV[4] MAXLEN (approximate trim)
  ARGV[5] retention TTL in seconds, applied when the batch ends the session
  ARGV[6] TTL in seconds while the session is open
  ARGV[7] characters of generated content in this batch (added to meta.outChars: the `max-output`
          processor's count across requests)
  ARGV[8..] type1, data1, type2, data2, ...   (a terminal type, if any, last)

  Returns { code, pseq, seq, deadline }:
     1  appended (or a keep-alive); pseq/seq are the last acknowledged pseq and stored seq; deadline is when
        the producer times out (ms, Redis clock; 0 once the session ended)
     0  a retry: every pseq of the batch was acknowledged already; nothing changed
    -1  the session's metadata does not exist
    -2  fenced: a newer epoch owns the session (pseq = that epoch)
    -3  the session already ended (pseq = last acknowledged pseq; seq = its terminal's seq)
    -4  not a producer-owned session
    -5  the epoch was never issued (pseq = current epoch)
    -6  out of order: the batch does not start right after the last acknowledged pseq (pseq = that one)
]]
local stream, meta, live = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', meta) == 0 then return { -1, 0, 0, 0 } end
local m = redis.call('HMGET', meta, 'producer', 'epoch', 'pseq', 'seq', 'terminal', 'idleMs')
if m[1] ~= '1' then return { -4, 0, 0, 0 } end
local epoch, asked = tonumber(m[2] or '0'), tonumber(ARGV[1])
if asked < epoch then return { -2, epoch, 0, 0 } end
if asked > epoch then return { -5, epoch, 0, 0 } end
local pseq, seq = tonumber(m[3] or '0'), tonumber(m[4] or '0')
local first, count = tonumber(ARGV[2]), tonumber(ARGV[3])
if count > 0 and first + count - 1 <= pseq then return { 0, pseq, seq, 0 } end
if m[5] then return { -3, pseq, tonumber(m[5]), 0 } end
if count > 0 and first ~= pseq + 1 then return { -6, pseq, seq, 0 } end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = (#ARGV - 7) / 2
local msg = { tostring(seq + 1) }
local terminal = nil
for i = 1, n do
  local ty, d = ARGV[6 + 2 * i], ARGV[7 + 2 * i]
  seq = seq + 1
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[4], seq .. '-0', 't', ty, 'd', d)
  msg[#msg + 1] = ty
  msg[#msg + 1] = d
  if ty == 'done' or ty == 'error' or ty == 'cancelled' then terminal = ty break end
end
if count > 0 then pseq = first + count - 1 end
if tonumber(ARGV[7]) > 0 then redis.call('HINCRBY', meta, 'outChars', ARGV[7]) end

local deadline = 0
if terminal then
  redis.call('HSET', meta, 'seq', seq, 'pseq', pseq, 'terminal', seq, 'status', terminal, 'endedAt', now)
  redis.call('HDEL', meta, 'deadline')
  redis.call('EXPIRE', stream, ARGV[5])
  redis.call('EXPIRE', meta, ARGV[5])
else
  deadline = now + tonumber(m[6] or '60000')
  redis.call('HSET', meta, 'seq', seq, 'pseq', pseq, 'deadline', deadline)
  if n > 0 then redis.call('EXPIRE', stream, ARGV[6]) end
  redis.call('EXPIRE', meta, ARGV[6])
end
if n > 0 then redis.call('SPUBLISH', live, table.concat(msg, '\n')) end
return { 1, pseq, seq, deadline }
