--[[
  Releases one task slot on an agent: decrements its load (never below 0) and re-scores it in
  its capability indexes. (Slots the dispatch loop took are given back by the queue's scripts.)

  KEYS[1] agent hash         P..'agent:'..id
  KEYS[2] expiry index       P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] agent id

  Returns { 1, load, maxLoad } when released, { 0 } when the agent is unknown or expired.
]]
--@include "lib-agent.lua"
--@include "lib-slot.lua"

local load, max_load = release_slot(ARGV[1], KEYS[1], ARGV[2])
if not load then return { 0 } end
return { 1, load, max_load }
