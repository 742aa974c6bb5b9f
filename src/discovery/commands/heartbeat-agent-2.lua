--[[
  Records a heartbeat: refreshes the agent's expiry (its own ttlMs) and updates whichever of
  status, load, maxLoad and healthScore the payload sets, keeping every index in step.

  KEYS[1] agent hash         P..'agent:'..id
  KEYS[2] expiry index       P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] agent id
  ARGV[3] grace ms (the hash outlives its expiry by this much, so the sweeper can read it)
  ARGV[4] JSON payload: { status?, load?, maxLoad?, healthScore? }

  Returns { 0, expired (1|0) } when the agent is unknown (expired = it had expired and was purged
  now), else { 1, previousStatus, record (AGENT_FIELDS order) }.
]]
--@include "lib-agent.lua"

local prefix, id = ARGV[1], ARGV[2]
local grace = tonumber(ARGV[3])
local p = cjson.decode(ARGV[4])
local now = now_ms()
local key = KEYS[1]

if not is_live(prefix, id, now) then
  if redis.call('EXISTS', key) == 1 or redis.call('ZSCORE', KEYS[2], id) then
    purge_agent(prefix, id)
    return { 0, 1 }
  end
  return { 0, 0 }
end

local cur = redis.call('HMGET', key, 'status', 'load', 'maxLoad', 'healthScore', 'capabilities', 'ttlMs')
local function pick(v, fallback)
  if v ~= nil and v ~= cjson.null then return v end
  return fallback
end
local status = pick(p.status, cur[1])
local load = pick(p.load, tonumber(cur[2]))
local max_load = pick(p.maxLoad, tonumber(cur[3]))
local health = pick(p.healthScore, tonumber(cur[4]))
local ttl = tonumber(cur[6])
local expires_at = now + ttl

redis.call('HSET', key, 'status', status, 'load', load, 'maxLoad', max_load, 'healthScore', tostring(health),
  'lastHeartbeatAt', now, 'expiresAt', expires_at)
redis.call('PEXPIRE', key, ttl + grace)
redis.call('ZADD', KEYS[2], expires_at, id)

if load ~= tonumber(cur[2]) or max_load ~= tonumber(cur[3]) then
  rescore(prefix, cjson.decode(cur[5]), id, load / max_load)
end
if status ~= cur[1] then
  redis.call('SREM', prefix .. 'agent_status:' .. cur[1], id)
  redis.call('SADD', prefix .. 'agent_status:' .. status, id)
end

return { 1, cur[1], read_agent(prefix, id) }
