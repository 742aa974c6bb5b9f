--[[
  Completes a RUNNING task exactly once and, in the same atomic step, releases the dependents
  whose last pending dependency this was (they become READY and get an outbox entry; the caller
  pushes their BullMQ jobs, and the reconciler does if the caller dies first).

  Input:
    KEYS[1] base key B
    ARGV[1] task id
    ARGV[2] attempt the result belongs to
    ARGV[3] result (JSON text)
    ARGV[4] now (ms)
    ARGV[5] agent id ("" = keep)
    ARGV[6] cost of the attempt in USD ("0" = none), ARGV[7] input tokens, ARGV[8] output tokens

  A result that takes the task, an ancestor or the workflow over its budget is not accepted: the
  task FAILS (budget_exceeded, not retried) and its unfinished descendants are cancelled.

  Output: JSON {ok, status?, attempt?, ready = list of {id, gen, prio, due}, events}
    ok=false: not RUNNING with that attempt (a late or duplicate reply): nothing changed
]]
--@include "task-lib.lua"

local B = KEYS[1]
local id = ARGV[1]
local now = tonumber(ARGV[4])
local k = tkey(B, id)
local ready, events = {}, {}
local f = rcall("HMGET", k, "status", "attempt", "slot", "slotp")
if f[1] ~= "RUNNING" or f[2] ~= ARGV[2] then
  return result(false, {status = f[1] or "", attempt = tonumber(f[2] or "-1")}, ready, events)
end
releaseTaskSlot(k, f[3], f[4])
if ARGV[5] ~= "" then rcall("HSET", k, "agent", ARGV[5]) end
local over = addCost(B, id, tonumber(ARGV[6] or "0") or 0, tonumber(ARGV[7] or "0") or 0,
  tonumber(ARGV[8] or "0") or 0)
if over then
  local err = cjson.encode({type = "budget_exceeded", retryable = false,
    message = "the run cost more than the budget of " .. over .. " allows", details = {budgetHolder = over}})
  recordAttempt(B, id, now, "failed", err)
  markTerminal(B, id, "FAILED", "budget_exceeded", now, err, events)
  rcall("ZADD", B .. "dead", now, id)
  cancelDescendants(B, id, now, ready, events)
  propagate(B, {id}, now, ready, events)
  return result(true, {status = "FAILED"}, ready, events)
end
recordAttempt(B, id, now, "completed", nil)
rcall("HSET", k, "result", ARGV[3])
rcall("HDEL", k, "error")
markTerminal(B, id, "COMPLETED", "", now, nil, events)
propagate(B, {id}, now, ready, events)
return result(true, {}, ready, events)
