--[[
  Marks a READY task RUNNING for the BullMQ job that carried it, and returns the record with its
  dependencies' results (its inputs). A job of an older generation (the task was retried,
  cancelled or already started) is stale: nothing changes. The same generation while RUNNING is a
  re-delivery after a crash (BullMQ stalled-job check): the task restarts with the same attempt.

  When the caller names an agent (ARGV[5]), the script also takes one task slot on it for the
  attempt, as claim-slot-3.lua does (the slot is recorded on the task, with the agent, and given
  back by the script that ends the attempt): one round trip instead of two on the dispatch path.
  A refused slot (agent full, gone or not accepting work) leaves the task RUNNING without one;
  the caller then claims elsewhere or defers.

  Input:
    KEYS[1] base key B
    KEYS[2] agent hash         P..'agent:'..agentId (P..'agent:' when no agent is named)
    KEYS[3] expiry index       P..'agent_expiry'
    ARGV[1] task id
    ARGV[2] generation carried by the job ("" = any: a pull-style dequeue of the current one)
    ARGV[3] now (ms)
    ARGV[4] grace (ms) added to the task timeout for the RUNNING deadline
    ARGV[5] agent id to take a slot on ("" = none)
    ARGV[6] discovery key prefix P

  Output: nil when stale; else {flatRecord, depInfo, redelivered, budgetLeftUsd, slot}
    flatRecord  HGETALL of the task after the change
    depInfo     flat list: depId, depRef, depWorkflowId, depStatus, depResult (per dependency)
    redelivered 1 for a re-delivery, else 0
    budgetLeftUsd what is left (USD, as text) of the tightest budget on the task, its ancestors
                  and the root's workflow; "" when none has a USD budget
    slot        {load, maxLoad} of the agent when its slot was taken, else {}
]]
--@include "task-lib.lua"

local B = KEYS[1]
local id = ARGV[1]
local now = tonumber(ARGV[3])
local k = tkey(B, id)
local f = rcall("HMGET", k, "status", "gen", "timeout", "seq", "retryAt", "slot", "slotp")
if not f[1] then return nil end
if ARGV[2] ~= "" and f[2] ~= ARGV[2] then return nil end
local redelivered = 0
if f[1] == "RUNNING" then
  if ARGV[2] == "" then return nil end
  redelivered = 1
  -- the crashed run's slot: the restarted attempt claims its own
  releaseTaskSlot(k, f[6], f[7])
elseif f[1] ~= "READY" then
  return nil
end

rcall("HSET", k, "status", "RUNNING", "started", now, "updated", now)
rcall("HDEL", k, "reason")
rcall("HINCRBY", k, "runs", 1)
if f[5] then
  rcall("HDEL", k, "retryAt")
  rcall("ZREM", B .. "delayed", id)
end
setIndex(B, id, f[1], "RUNNING", f[4])
if redelivered == 0 then rcall("ZREM", B .. "outbox", id .. "#" .. f[2]) end
rcall("ZADD", B .. "running", now + tonumber(f[3]) + tonumber(ARGV[4]), id)

local slot = {}
if ARGV[5] ~= "" then
  local load, max_load = reserve_slot(ARGV[6], KEYS[2], ARGV[5])
  if load then
    rcall("HSET", k, "slot", ARGV[5], "slotp", ARGV[6], "agent", ARGV[5])
    slot = {load, max_load}
  end
end

local depInfo = {}
local deps = cjson.decode(rcall("HGET", k, "deps"))
for _, dep in ipairs(deps) do
  local d = rcall("HMGET", tkey(B, dep), "ref", "wf", "status", "result")
  depInfo[#depInfo + 1] = dep
  depInfo[#depInfo + 1] = d[1] or ""
  depInfo[#depInfo + 1] = d[2] or ""
  depInfo[#depInfo + 1] = d[3] or ""
  depInfo[#depInfo + 1] = d[4] or ""
end
-- The tightest USD budget above the task (its own, its ancestors', the root's workflow's).
local left = nil
local cur, root = id, id
while cur and cur ~= "" do
  local b = rcall("HMGET", tkey(B, cur), "bUsd", "tUsd", "parent")
  local bUsd = tonumber(b[1] or "0") or 0
  if bUsd > 0 then
    local l = bUsd - (tonumber(b[2] or "0") or 0)
    if not left or l < left then left = l end
  end
  root = cur
  cur = b[3]
end
local wf = rcall("HGET", tkey(B, root), "wf")
if wf and wf ~= "" then
  local w = rcall("HMGET", B .. "w:" .. wf, "bUsd", "cUsd")
  local bUsd = tonumber(w[1] or "0") or 0
  if bUsd > 0 then
    local l = bUsd - (tonumber(w[2] or "0") or 0)
    if not left or l < left then left = l end
  end
end
return {rcall("HGETALL", k), depInfo, redelivered, left and tostring(left) or "", slot}
