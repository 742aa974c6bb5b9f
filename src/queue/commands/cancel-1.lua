--[[
  Cancels non-terminal tasks: one task, or every non-terminal task of a workflow. All are marked
  CANCELLED first, then their dependents (inside or outside the workflow) follow their policy.
  A RUNNING task is only marked here; its runner hears of it on the ch:cancel channel. Each
  cancelled task's unfinished delegated descendants are cancelled too (reason parent_cancelled).

  Input:
    KEYS[1] base key B
    ARGV[1] "task" | "workflow"
    ARGV[2] task id or workflow id
    ARGV[3] reason (user | deadlock | timeout | ...)
    ARGV[4] now (ms)

  Output: JSON {ok, status?, cancelled = list of {id, previousStatus, attempt}, ready, events}
    ok=false, status=""        unknown task/workflow
    ok=false, status=<status>  the task/workflow is already terminal
]]
--@include "task-lib.lua"

local B = KEYS[1]
local what = ARGV[1]
local id = ARGV[2]
local reason = ARGV[3]
local now = tonumber(ARGV[4])
local ready, events, cancelled = {}, {}, {}

local targets = {}
if what == "workflow" then
  local wk = B .. "w:" .. id
  local wst = rcall("HGET", wk, "status")
  if not wst then return result(false, {status = ""}, ready, events) end
  if wst ~= "RUNNING" then return result(false, {status = wst}, ready, events) end
  rcall("HSET", wk, "status", "CANCELLING")
  targets = rcall("ZRANGE", wk .. ":tasks", 0, -1)
else
  local st = rcall("HGET", tkey(B, id), "status")
  if not st then return result(false, {status = ""}, ready, events) end
  if st == "COMPLETED" or st == "FAILED" or st == "CANCELLED" then
    return result(false, {status = st}, ready, events)
  end
  targets = {id}
end

local queue = {}
for _, t in ipairs(targets) do
  local f = rcall("HMGET", tkey(B, t), "status", "attempt")
  if f[1] == "BLOCKED" or f[1] == "READY" or f[1] == "RUNNING" then
    local err = cjson.encode({type = "cancelled", retryable = false, message = "cancelled: " .. reason})
    if f[1] == "RUNNING" then recordAttempt(B, t, now, "cancelled", err) end
    markTerminal(B, t, "CANCELLED", reason, now, err, events)
    cancelled[#cancelled + 1] = {t, f[1], tonumber(f[2])}
    queue[#queue + 1] = t
  end
end
propagate(B, queue, now, ready, events)
for _, t in ipairs(queue) do cancelDescendants(B, t, now, ready, events) end
return result(true, {cancelled = cancelled}, ready, events)
