--[[
  Removes up to `max` agents whose heartbeat expired from every index and deletes their records.

  KEYS[1] expiry index   P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] max agents to remove in this call

  Returns the ids removed (fewer than `max` means nothing more is due).
]]
--@include "lib-agent.lua"

return purge_due(ARGV[1], now_ms(), tonumber(ARGV[2]))
