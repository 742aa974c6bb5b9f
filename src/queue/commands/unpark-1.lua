--[[
  Releases parked tasks: every parked task of a capability (an agent with it appeared), or the
  parked tasks whose wait timeout passed (they FAIL with no_agent, not retried).

  Input:
    KEYS[1] base key B
    ARGV[1] "capability" | "expired"
    ARGV[2] the capability (for "capability")
    ARGV[3] now (ms), ARGV[4] most tasks to release

  Output: JSON {ok, released, ready, events}
]]
--@include "task-lib.lua"

local B = KEYS[1]
local mode = ARGV[1]
local now = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local ready, events = {}, {}
local released = 0

if mode == "capability" then
  local cap = ARGV[2]
  local pk = B .. "parked:" .. cap
  for _, id in ipairs(rcall("ZRANGE", pk, 0, limit - 1)) do
    rcall("ZREM", pk, id)
    rcall("ZREM", B .. "parkdl", id)
    if rcall("HGET", tkey(B, id), "status") == "READY" then
      rcall("HDEL", tkey(B, id), "waitSince")
      makeReady(B, id, now, now, "", ready, events)
      released = released + 1
    end
  end
  if rcall("ZCARD", pk) == 0 then rcall("SREM", B .. "parkedcaps", cap) end
else
  for _, id in ipairs(rcall("ZRANGEBYSCORE", B .. "parkdl", "-inf", now, "LIMIT", 0, limit)) do
    rcall("ZREM", B .. "parkdl", id)
    local f = rcall("HMGET", tkey(B, id), "status", "cap", "waitSince")
    if f[2] then rcall("ZREM", B .. "parked:" .. f[2], id) end
    if f[1] == "READY" then
      local err = cjson.encode({type = "no_agent", retryable = false,
        message = "no agent with capability '" .. (f[2] or "") .. "' appeared within the task's wait timeout",
        details = {capability = f[2], waitingSince = tonumber(f[3] or "0")}})
      markTerminal(B, id, "FAILED", "no_agent", now, err, events)
      rcall("ZADD", B .. "dead", now, id)
      propagate(B, {id}, now, ready, events)
      released = released + 1
    end
  end
end
return result(true, {released = released}, ready, events)
