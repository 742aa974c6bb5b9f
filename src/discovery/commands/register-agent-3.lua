--[[
  Registers an agent, or updates it in place when its id is already registered (idempotent by id).
  Identity fields are replaced; status, load and healthScore keep their current values unless the
  payload sets them (so a second registration does not wipe reservations in flight).

  KEYS[1] agent hash         P..'agent:'..id
  KEYS[2] expiry index       P..'agent_expiry'
  KEYS[3] id index           P..'agent_ids'
  ARGV[1] key prefix P
  ARGV[2] agent id
  ARGV[3] JSON payload: { name, description, capabilitiesJson, maxLoad, executor?, model?,
          workerId?, source?, metadataJson, ttlMs, graceMs, status?, load?, healthScore? }
          (`source` = metadata.source, kept as its own field so find can filter on it cheaply)

  Returns { created (1|0), previousStatus or nil, expiredBefore (1|0), record (AGENT_FIELDS order) }
  expiredBefore = 1 when a record under this id had expired (it is purged first: the caller emits
  its expiry).
]]
--@include "lib-agent.lua"

local prefix, id = ARGV[1], ARGV[2]
local p = cjson.decode(ARGV[3])
local now = now_ms()
local key = KEYS[1]

local expired_before = 0
if redis.call('EXISTS', key) == 1 or redis.call('ZSCORE', KEYS[2], id) then
  if not is_live(prefix, id, now) then
    purge_agent(prefix, id)
    expired_before = 1
  end
end

local prev = redis.call('HMGET', key, 'status', 'load', 'healthScore', 'capabilities', 'registeredAt')
local existed = prev[1] ~= false

local function given(v)
  return v ~= nil and v ~= cjson.null
end

local status = given(p.status) and p.status or (existed and prev[1] or 'AVAILABLE')
local load = given(p.load) and p.load or (existed and tonumber(prev[2]) or 0)
local health = given(p.healthScore) and p.healthScore or (existed and tonumber(prev[3]) or 1)
local registered_at = existed and prev[5] or tostring(now)
local expires_at = now + p.ttlMs
local caps = cjson.decode(p.capabilitiesJson)

local args = {
  'id', id, 'name', p.name, 'description', p.description, 'capabilities', p.capabilitiesJson,
  'status', status, 'load', load, 'maxLoad', p.maxLoad, 'healthScore', tostring(health),
  'registeredAt', registered_at, 'lastHeartbeatAt', now, 'expiresAt', expires_at,
  'metadata', p.metadataJson, 'ttlMs', p.ttlMs,
}
local unset = {}
for _, f in ipairs({ 'executor', 'model', 'workerId', 'source' }) do
  if given(p[f]) then
    args[#args + 1] = f
    args[#args + 1] = p[f]
  else
    unset[#unset + 1] = f
  end
end
redis.call('HSET', key, unpack(args))
if #unset > 0 then redis.call('HDEL', key, unpack(unset)) end
redis.call('PEXPIRE', key, p.ttlMs + p.graceMs)

-- Capability indexes: drop the ones the agent no longer has, (re)score the rest.
local keep = {}
for _, cap in ipairs(caps) do keep[cap] = true end
if existed and prev[4] then
  for _, cap in ipairs(cjson.decode(prev[4])) do
    if not keep[cap] then unindex_capability(prefix, cap, id) end
  end
end
local ratio = load / p.maxLoad
for _, cap in ipairs(caps) do index_capability(prefix, cap, id, ratio) end

if existed and prev[1] ~= status then
  redis.call('SREM', prefix .. 'agent_status:' .. prev[1], id)
end
redis.call('SADD', prefix .. 'agent_status:' .. status, id)
redis.call('ZADD', KEYS[2], expires_at, id)
redis.call('ZADD', KEYS[3], 0, id)

return { existed and 0 or 1, existed and prev[1] or false, expired_before, read_agent(prefix, id) }
