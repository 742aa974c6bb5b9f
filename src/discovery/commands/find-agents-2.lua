--[[
  Finds live agents with a capability, least loaded first (load / maxLoad ascending, then id),
  filtered by max load ratio, statuses and min health score. Read-only: expired agents are
  skipped here and purged by the sweeper.

  KEYS[1] capability load index  P..'capability_load:'..capability
  KEYS[2] expiry index           P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] max load ratio (a number, or '+inf')
  ARGV[3] min health score (0..1)
  ARGV[4] allowed statuses, comma-separated ('' = any)
  ARGV[5] limit

  Returns the matching records (AGENT_FIELDS order), at most `limit`.
]]
--@include "lib-agent.lua"

local prefix = ARGV[1]
local max_ratio = ARGV[2]
local min_health = tonumber(ARGV[3])
local allowed = csv_set(ARGV[4])
local limit = tonumber(ARGV[5])
local now = now_ms()

local out = {}
local batch = math.max(limit * 2, 64)
local offset = 0
while #out < limit do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', max_ratio, 'LIMIT', offset, batch)
  for _, id in ipairs(ids) do
    local exp = redis.call('ZSCORE', KEYS[2], id)
    if exp and tonumber(exp) > now then
      local f = redis.call('HMGET', agent_key(prefix, id), 'status', 'healthScore')
      if f[1] and (allowed == nil or allowed[f[1]]) and tonumber(f[2]) >= min_health then
        out[#out + 1] = read_agent(prefix, id)
        if #out >= limit then break end
      end
    end
  end
  if #ids < batch then break end
  offset = offset + batch
end
return out
