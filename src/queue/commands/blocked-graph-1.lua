--[[
  The wait-for graph among BLOCKED tasks, for deadlock detection (cycles are found by the caller).

  Input:
    KEYS[1] base key B

  Output: flat list: id, n, dep_1 .. dep_n, id, n, ... for every BLOCKED task, listing only its
  pending dependencies (those it still waits for).
]]
local B = KEYS[1]
local out = {}
for _, id in ipairs(redis.call("ZRANGE", B .. "s:BLOCKED", 0, -1)) do
  local deps = redis.call("SMEMBERS", B .. "t:" .. id .. ":pending")
  out[#out + 1] = id
  out[#out + 1] = #deps
  for _, d in ipairs(deps) do out[#out + 1] = d end
end
return out
