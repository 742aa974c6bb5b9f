--[[
  Finds live agents with a capability, least loaded first (load / maxLoad ascending, then id),
  filtered by max load ratio, statuses and min health score. Read-only: expired agents are
  skipped here and purged by the sweeper.

  KEYS[1] capability load index  P..'capability_load:'..capability
  KEYS[2] expiry index           P..'agent_expiry' (declared; liveness is read from the hash's
          expiresAt, which always equals the agent's score there)
  ARGV[1] key prefix P
  ARGV[2] max load ratio (a number, or '+inf')
  ARGV[3] min health score (0..1)
  ARGV[4] allowed statuses, comma-separated ('' = any)
  ARGV[5] limit
  ARGV[6] skip agents whose `source` field equals this ('' = skip none)

  Returns the matching records (AGENT_FIELDS order), at most `limit`.
]]
--@include "lib-agent.lua"

local prefix = ARGV[1]
local max_ratio = ARGV[2]
local min_health = tonumber(ARGV[3])
local allowed = csv_set(ARGV[4])
local limit = tonumber(ARGV[5])
local skip_source = ARGV[6] ~= '' and ARGV[6] or nil
local now = now_ms()

local out = {}
-- Most candidates pass the filters, so a small batch usually suffices.
local batch = math.max(limit * 4, 16)
local offset = 0
while #out < limit do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', max_ratio, 'LIMIT', offset, batch)
  for _, id in ipairs(ids) do
    -- One read per candidate: the hash's expiresAt always equals its agent_expiry score (both
    -- are written by the same scripts), and a hash past its grace period reads as nil.
    local f = redis.call('HMGET', agent_key(prefix, id), 'expiresAt', 'status', 'healthScore', 'source')
    if f[1] and tonumber(f[1]) > now and (allowed == nil or allowed[f[2]])
      and tonumber(f[3]) >= min_health and (skip_source == nil or f[4] ~= skip_source) then
      out[#out + 1] = read_agent(prefix, id)
      if #out >= limit then break end
    end
  end
  if #ids < batch then break end
  offset = offset + batch
end
return out
