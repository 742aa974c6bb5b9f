--[[
  Releases one task slot on an agent: decrements its load (never below 0) and re-scores it in
  its capability indexes.

  KEYS[1] agent hash         P..'agent:'..id
  KEYS[2] expiry index       P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] agent id

  Returns { 1, load, maxLoad } when released, { 0 } when the agent is unknown or expired.
]]
--@include "lib-agent.lua"

local prefix, id = ARGV[1], ARGV[2]
if not is_live(prefix, id, now_ms()) then return { 0 } end
local f = redis.call('HMGET', KEYS[1], 'load', 'maxLoad', 'capabilities')
local load, max_load = tonumber(f[1]), tonumber(f[2])
if load > 0 then
  load = redis.call('HINCRBY', KEYS[1], 'load', -1)
  rescore(prefix, cjson.decode(f[3]), id, load / max_load)
end
return { 1, load, max_load }
