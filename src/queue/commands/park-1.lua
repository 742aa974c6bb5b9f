--[[
  Parks a RUNNING attempt whose capability no live agent serves: the task is READY again, same
  attempt, but has no BullMQ job (nobody polls it); it waits in parked:<capability> until an
  agent with that capability appears (unpark-1.lua) or its wait timeout passes (expire).

  Input:
    KEYS[1] base key B
    ARGV[1] task id, ARGV[2] attempt, ARGV[3] reason, ARGV[4] now (ms)

  Output: JSON {ok, status?, events}; ok=false: stale (not RUNNING with that attempt)
]]
--@include "task-lib.lua"

local B = KEYS[1]
local id = ARGV[1]
local now = tonumber(ARGV[4])
local k = tkey(B, id)
local ready, events = {}, {}
local f = rcall("HMGET", k, "status", "attempt", "seq", "cap", "waitTo", "waitSince", "slot", "slotp")
if f[1] ~= "RUNNING" or f[2] ~= ARGV[2] then
  return result(false, {status = f[1] or ""}, ready, events)
end
releaseTaskSlot(k, f[7], f[8])
local since = tonumber(f[6] or "") or now
rcall("HSET", k, "status", "READY", "updated", now, "reason", ARGV[3], "waitSince", since)
rcall("HINCRBY", k, "gen", 1) -- any job still around for it is stale now
setIndex(B, id, "RUNNING", "READY", f[3])
rcall("ZREM", B .. "running", id)
rcall("ZADD", B .. "parked:" .. f[4], f[3], id)
rcall("SADD", B .. "parkedcaps", f[4])
local waitTo = tonumber(f[5] or "0") or 0
if waitTo > 0 then rcall("ZADD", B .. "parkdl", since + waitTo * 1000, id) end
pushEvent(B, events, "waiting", id, ARGV[3])
return result(true, {}, ready, events)
