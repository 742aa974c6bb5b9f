--[[
  Shared fragment (included, not a command): taking and giving back one task slot on an agent.
  Needs lib-agent.lua (is_live, now_ms, rescore) included before it. Used by the discovery slot
  scripts and by the queue's scripts, which hold a task's slot on its record (claim-slot-3.lua)
  and give it back in the same step that ends the attempt (task-lib.lua).
]]

-- One slot on agent `id` (hash `key`): when it is live, AVAILABLE or BUSY, and load < maxLoad,
-- load + 1 and re-scored in its capability indexes. Returns load, maxLoad; nil when refused.
local function reserve_slot(prefix, key, id)
  if not is_live(prefix, id, now_ms()) then return nil end
  local f = redis.call('HMGET', key, 'status', 'load', 'maxLoad', 'capabilities')
  if f[1] ~= 'AVAILABLE' and f[1] ~= 'BUSY' then return nil end
  local load, max_load = tonumber(f[2]), tonumber(f[3])
  if load >= max_load then return nil end
  load = redis.call('HINCRBY', key, 'load', 1)
  rescore(prefix, cjson.decode(f[4]), id, load / max_load)
  return load, max_load
end

-- Gives one slot back (load - 1, never below 0). Returns load, maxLoad; nil when the agent is
-- unknown or expired (its load went with it).
local function release_slot(prefix, key, id)
  if not is_live(prefix, id, now_ms()) then return nil end
  local f = redis.call('HMGET', key, 'load', 'maxLoad', 'capabilities')
  local load, max_load = tonumber(f[1]), tonumber(f[2])
  if load > 0 then
    load = redis.call('HINCRBY', key, 'load', -1)
    rescore(prefix, cjson.decode(f[3]), id, load / max_load)
  end
  return load, max_load
end
