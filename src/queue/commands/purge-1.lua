--[[
  Removes archived terminal tasks from Redis (retention). A task is removed only while it is
  still terminal and none of its dependents is waiting for it (a dependent reads its result when
  it starts); otherwise it is kept and tried again by a later sweep. A workflow hash goes with
  its last task once the workflow has ended.

  Input:
    KEYS[1] base key B
    ARGV[1] JSON list of task ids (already archived by the caller)

  Output: JSON {ok, purged = [ids], kept = [ids]}
]]
--@include "task-lib.lua"

local B = KEYS[1]
local ids = cjson.decode(ARGV[1])
local purged, kept = {}, {}

local function terminal(st)
  return st == "COMPLETED" or st == "FAILED" or st == "CANCELLED"
end

for _, id in ipairs(ids) do
  local k = tkey(B, id)
  local f = rcall("HMGET", k, "status", "wf", "idem", "parent")
  local removable = terminal(f[1])
  if removable then
    for _, d in ipairs(rcall("SMEMBERS", k .. ":dependents")) do
      local dst = rcall("HGET", tkey(B, d), "status")
      if dst and not terminal(dst) then removable = false break end
    end
  end
  if not f[1] then
    rcall("ZREM", B .. "ended", id)
  elseif removable then
    rcall("DEL", k, k .. ":pending", k .. ":dependents", k .. ":children", k .. ":attempts")
    rcall("ZREM", B .. "all", id)
    rcall("ZREM", B .. "s:" .. f[1], id)
    rcall("ZREM", B .. "dead", id)
    rcall("ZREM", B .. "ended", id)
    rcall("ZREM", B .. "runs", "t:" .. id)
    if f[3] and f[3] ~= "" and rcall("GET", B .. "idem:" .. f[3]) == id then
      rcall("DEL", B .. "idem:" .. f[3])
    end
    if f[2] and f[2] ~= "" then
      local wk = B .. "w:" .. f[2]
      rcall("ZREM", wk .. ":tasks", id)
      local wst = rcall("HGET", wk, "status")
      if rcall("ZCARD", wk .. ":tasks") == 0 and wst and wst ~= "RUNNING" and wst ~= "CANCELLING" then
        local widem = rcall("HGET", wk, "idem")
        if widem and widem ~= "" then rcall("DEL", B .. "widem:" .. widem) end
        rcall("DEL", wk)
        rcall("ZREM", B .. "runs", "w:" .. f[2])
      end
    end
    purged[#purged + 1] = id
  else
    kept[#kept + 1] = id
  end
end
return cjson.encode({ok = true, purged = purged, kept = kept})
