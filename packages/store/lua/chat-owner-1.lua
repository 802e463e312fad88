--[[
  A tenant starts a turn of an AI SDK chat: the chat id becomes this tenant's if no tenant holds it, and
  stays the holder's otherwise. Chat ids are chosen by clients (the `ai` package generates them), so two
  tenants may pick the same one; the first keeps it, and the other is told the chat does not exist.

  KEYS[1] the chat id's owner key (string: tenant)
  ARGV[1] tenant
  ARGV[2] TTL in seconds (the chat key's), renewed on every turn of the owner

  Returns:
     1  the chat is this tenant's (claimed now, or before; its TTL renewed)
     0  another tenant holds it
]]
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
