--[[
  The part of the wait-for graph among BLOCKED tasks where a deadlock can be: everything reachable
  from the "suspects". Edges only appear when a task is enqueued (or revived by a requeue), and a
  cycle can only close through a task that other tasks were already waiting for when it arrived;
  enqueue-1.lua and requeue-1.lua put exactly those in the suspects set. So every cycle contains a
  suspect, and the caller drops each suspect that it finds on no cycle. This keeps detection
  proportional to the new, suspicious part of the graph instead of every BLOCKED task.

  Input:
    KEYS[1] base key B

  Output: {blockedCount, suspects, flat}
    blockedCount  number of BLOCKED tasks
    suspects      the suspect ids examined
    flat          id, n, dep_1 .. dep_n, ... for every BLOCKED task reachable from a suspect,
                  listing the pending dependencies it waits for that are BLOCKED too
]]
local B = KEYS[1]
local rcall = redis.call
local suspects = rcall("SMEMBERS", B .. "suspects")
local seen = {}
local queue = {}
for _, id in ipairs(suspects) do
  if not seen[id] then
    seen[id] = true
    queue[#queue + 1] = id
  end
end

local flat = {}
local i = 1
while i <= #queue do
  local id = queue[i]
  i = i + 1
  if rcall("HGET", B .. "t:" .. id, "status") == "BLOCKED" then
    local kept = {}
    for _, d in ipairs(rcall("SMEMBERS", B .. "t:" .. id .. ":pending")) do
      if rcall("HGET", B .. "t:" .. d, "status") == "BLOCKED" then
        kept[#kept + 1] = d
        if not seen[d] then
          seen[d] = true
          queue[#queue + 1] = d
        end
      end
    end
    flat[#flat + 1] = id
    flat[#flat + 1] = #kept
    for _, d in ipairs(kept) do flat[#flat + 1] = d end
  end
end
return {rcall("ZCARD", B .. "s:BLOCKED"), suspects, flat}
