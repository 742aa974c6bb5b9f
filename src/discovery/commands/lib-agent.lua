--[[
  Shared helpers of the discovery scripts. Included with `--@include "lib-agent.lua"`; not a command
  itself (its name has no key count).

  Keys are built from the install prefix P (ARGV[1] of every script):
    P..'agent:'..id              HASH  the agent record (fields: AGENT_FIELDS)
    P..'capability:'..name       SET   ids of live agents with that capability
    P..'capability_load:'..name  ZSET  the same ids scored by load ratio (load / maxLoad)
    P..'agent_status:'..status   SET   ids of agents in that status
    P..'agent_expiry'            ZSET  id -> expiresAt (Redis time, ms): the source of liveness
    P..'agent_ids'               ZSET  id -> 0, lexicographic order for cursor pagination
    P..'capabilities'            SET   capability names with at least one agent
]]

local AGENT_FIELDS = {
  'id', 'name', 'description', 'capabilities', 'status', 'load', 'maxLoad', 'healthScore',
  'executor', 'model', 'workerId', 'registeredAt', 'lastHeartbeatAt', 'expiresAt', 'metadata',
  'ttlMs',
}
local STATUSES = { 'AVAILABLE', 'BUSY', 'DRAINING', 'OFFLINE' }

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function agent_key(prefix, id)
  return prefix .. 'agent:' .. id
end

local function read_agent(prefix, id)
  return redis.call('HMGET', agent_key(prefix, id), unpack(AGENT_FIELDS))
end

-- An agent is live while its expiry score lies in the future (the hash may outlive it by a grace).
local function is_live(prefix, id, now)
  local exp = redis.call('ZSCORE', prefix .. 'agent_expiry', id)
  return exp ~= false and exp ~= nil and tonumber(exp) > now
end

local function index_capability(prefix, cap, id, ratio)
  redis.call('SADD', prefix .. 'capability:' .. cap, id)
  redis.call('ZADD', prefix .. 'capability_load:' .. cap, ratio, id)
  redis.call('SADD', prefix .. 'capabilities', cap)
end

local function unindex_capability(prefix, cap, id)
  redis.call('SREM', prefix .. 'capability:' .. cap, id)
  redis.call('ZREM', prefix .. 'capability_load:' .. cap, id)
  if redis.call('SCARD', prefix .. 'capability:' .. cap) == 0 then
    redis.call('SREM', prefix .. 'capabilities', cap)
  end
end

-- Re-scores the agent in every capability index after its load or max load changed.
local function rescore(prefix, caps, id, ratio)
  for _, cap in ipairs(caps) do
    redis.call('ZADD', prefix .. 'capability_load:' .. cap, ratio, id)
  end
end

-- Removes an agent from every index and deletes its hash. When the hash is already gone (it
-- outlived its grace period), falls back to every known capability and status.
local function purge_agent(prefix, id)
  local key = agent_key(prefix, id)
  local fields = redis.call('HMGET', key, 'capabilities', 'status')
  local caps
  if fields[1] then
    caps = cjson.decode(fields[1])
  else
    caps = redis.call('SMEMBERS', prefix .. 'capabilities')
  end
  for _, cap in ipairs(caps) do
    unindex_capability(prefix, cap, id)
  end
  if fields[2] then
    redis.call('SREM', prefix .. 'agent_status:' .. fields[2], id)
  else
    for _, status in ipairs(STATUSES) do
      redis.call('SREM', prefix .. 'agent_status:' .. status, id)
    end
  end
  redis.call('ZREM', prefix .. 'agent_expiry', id)
  redis.call('ZREM', prefix .. 'agent_ids', id)
  redis.call('DEL', key)
end

-- Purges up to `max` agents whose expiry has passed; returns their ids.
local function purge_due(prefix, now, max)
  local ids = redis.call('ZRANGEBYSCORE', prefix .. 'agent_expiry', '-inf', now, 'LIMIT', 0, max)
  for _, id in ipairs(ids) do
    purge_agent(prefix, id)
  end
  return ids
end

-- Parses a comma-separated list into a set; an empty string gives nil (no filter).
local function csv_set(s)
  if s == nil or s == '' then return nil end
  local set = {}
  for item in string.gmatch(s, '[^,]+') do set[item] = true end
  return set
end
