--[[
  Reads one live agent. An expired agent is purged on the spot (lazy cleanup) and not returned.

  KEYS[1] agent hash         P..'agent:'..id
  KEYS[2] expiry index       P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] agent id

  Returns { 1, record (AGENT_FIELDS order) } or { 0, expired (1|0) }.
]]
--@include "lib-agent.lua"

local prefix, id = ARGV[1], ARGV[2]
local now = now_ms()
if is_live(prefix, id, now) then
  return { 1, read_agent(prefix, id) }
end
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('ZSCORE', KEYS[2], id) then
  purge_agent(prefix, id)
  return { 0, 1 }
end
return { 0, 0 }
