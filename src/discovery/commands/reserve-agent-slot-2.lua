--[[
  Reserves one task slot on an agent: when it is live, AVAILABLE or BUSY, and load < maxLoad,
  increments its load and re-scores it in its capability indexes.

  KEYS[1] agent hash         P..'agent:'..id
  KEYS[2] expiry index       P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] agent id

  Returns { 1, load, maxLoad } when reserved, { 0 } when refused (unknown, expired, not accepting
  work or full).
]]
--@include "lib-agent.lua"

local prefix, id = ARGV[1], ARGV[2]
if not is_live(prefix, id, now_ms()) then return { 0 } end
local f = redis.call('HMGET', KEYS[1], 'status', 'load', 'maxLoad', 'capabilities')
if f[1] ~= 'AVAILABLE' and f[1] ~= 'BUSY' then return { 0 } end
local load, max_load = tonumber(f[2]), tonumber(f[3])
if load >= max_load then return { 0 } end
load = redis.call('HINCRBY', KEYS[1], 'load', 1)
rescore(prefix, cjson.decode(f[4]), id, load / max_load)
return { 1, load, max_load }
