--[[
  Removes an agent from every index and deletes its record.

  KEYS[1] agent hash         P..'agent:'..id
  KEYS[2] expiry index       P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] agent id

  Returns { found (1|0), expired (1|0) }: found = it was live and is now gone; expired = it had
  already expired (purged now, reported as not found).
]]
--@include "lib-agent.lua"

local prefix, id = ARGV[1], ARGV[2]
local now = now_ms()
if is_live(prefix, id, now) then
  purge_agent(prefix, id)
  return { 1, 0 }
end
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('ZSCORE', KEYS[2], id) then
  purge_agent(prefix, id)
  return { 0, 1 }
end
return { 0, 0 }
