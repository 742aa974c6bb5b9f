--[[
  Reserves one task slot on an agent: when it is live, AVAILABLE or BUSY, and load < maxLoad,
  increments its load and re-scores it in its capability indexes. (The dispatch loop takes its
  slots with the queue's claim-slot-3.lua, which also records the slot on the task.)

  KEYS[1] agent hash         P..'agent:'..id
  KEYS[2] expiry index       P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] agent id

  Returns { 1, load, maxLoad } when reserved, { 0 } when refused (unknown, expired, not accepting
  work or full).
]]
--@include "lib-agent.lua"
--@include "lib-slot.lua"

local load, max_load = reserve_slot(ARGV[1], KEYS[1], ARGV[2])
if not load then return { 0 } end
return { 1, load, max_load }
