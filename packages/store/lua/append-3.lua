--[[
  Appends a batch of events to a session's stream and notifies the edges, atomically.

  Idempotent: entry ids are `<seq>-0` from a per-session sequence, so a retried batch whose entries are
  already present is recognised and not appended twice. Fenced: only the attempt that currently owns the
  session (meta.attempt) may append, so a worker that lost its job can never write after the reset.

  KEYS[1] stream      KEYS[2] meta hash      KEYS[3] live channel (sharded pub/sub: same slot as the keys)
  ARGV[1] attempt (fence; "0" before any worker began)
  ARGV[2] seq of the first event in this batch
  ARGV[3] MAXLEN (approximate trim)
  ARGV[4] retention TTL in seconds, applied when the batch ends the session
  ARGV[5] TTL in seconds while the session is still open (so an abandoned session cannot live forever)
  ARGV[6] now, ms since epoch
  ARGV[7..] type1, data1, type2, data2, ...   (at most one terminal type, and only last)

  Returns { code, lastSeq }:
     1  appended; lastSeq is the session's last seq
     0  every event was already appended (a retry); nothing changed
    -1  the session's metadata does not exist
    -2  fenced: another attempt owns the session (lastSeq = that attempt)
    -3  the session already ended; nothing may follow its terminal event
     2  appended, but the batch starts past the end of the stream: Redis lost acknowledged entries (a
        failover, or an AOF that had not reached disk). The entries keep their seqs, so no id is ever
        reused for other content; readers report the hole in-band as a `gap`.
]]
local stream, meta, live = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', meta) == 0 then return { -1, 0 } end
local m = redis.call('HMGET', meta, 'attempt', 'seq', 'terminal')
local attempt = m[1] or '0'
if attempt ~= ARGV[1] then return { -2, tonumber(attempt) } end
local seq = tonumber(m[2] or '0')
local first = tonumber(ARGV[2])
local n = (#ARGV - 6) / 2
local hole = first > seq + 1
local skip = hole and 0 or (seq - first + 1)
if skip >= n then return { 0, seq } end
if m[3] then return { -3, seq } end

local msg = { tostring(first + skip) }
local terminal = nil
for i = skip + 1, n do
  local s = first + i - 1
  local t, d = ARGV[5 + 2 * i], ARGV[6 + 2 * i]
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[3], s .. '-0', 't', t, 'd', d)
  msg[#msg + 1] = t
  msg[#msg + 1] = d
  seq = s
  if t == 'done' or t == 'error' or t == 'cancelled' then terminal = t break end
end

if terminal then
  redis.call('HSET', meta, 'seq', seq, 'terminal', seq, 'status', terminal, 'endedAt', ARGV[6])
  redis.call('EXPIRE', stream, ARGV[4])
  redis.call('EXPIRE', meta, ARGV[4])
else
  redis.call('HSET', meta, 'seq', seq)
  redis.call('EXPIRE', stream, ARGV[5])
  redis.call('EXPIRE', meta, ARGV[5])
end
-- Event data is JSON text (never a raw LF), so the message is one line per field: first seq, then pairs.
redis.call('SPUBLISH', live, table.concat(msg, '\n'))
return { hole and 2 or 1, seq }
