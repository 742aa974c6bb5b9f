--[[
  Lists every capability with its number of live agents and how many of them are AVAILABLE.
  Callers sweep expired agents first, so the counts only include live agents.

  KEYS[1] capability names   P..'capabilities'
  ARGV[1] key prefix P

  Returns a flat array { name, agents, available, name, agents, available, ... }.
]]
local prefix = ARGV[1]
local out = {}
for _, cap in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local set = prefix .. 'capability:' .. cap
  out[#out + 1] = cap
  out[#out + 1] = redis.call('SCARD', set)
  out[#out + 1] = redis.call('SINTERCARD', 2, set, prefix .. 'agent_status:AVAILABLE')
end
return out
