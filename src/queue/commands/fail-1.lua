--[[
  Applies a failed (or deferred) attempt of a RUNNING task; the caller has already asked the retry
  policy what to do.
    mode "retry": attempt+1, READY again at `due` (a delayed job), reason "retry"
    mode "defer": not an attempt (e.g. no agent free): READY again at `due`, same attempt
    mode "fail":  FAILED, into the dead-letter set, dependents follow their policy
    mode "lost":  an infrastructure loss (worker died or drained, message came back): a new
                  attempt number (the old one is fenced off) READY at once, ahead of new work of
                  its priority; `losses` counts it instead of the task's retries

  Input:
    KEYS[1] base key B
    ARGV[1] task id
    ARGV[2] attempt the outcome belongs to
    ARGV[3] mode: retry | defer | fail
    ARGV[4] error (JSON text, "" for defer)
    ARGV[5] due (ms) for retry/defer
    ARGV[6] reason stored on the record
    ARGV[7] now (ms)
    ARGV[8] agent id ("" = keep)
    ARGV[9] cost of the attempt in USD, ARGV[10] input tokens, ARGV[11] output tokens (all "0" = none)

  A FAILED task takes its unfinished delegated descendants with it (cancelled). An attempt whose
  cost takes the task, an ancestor or the workflow over budget fails the task (budget_exceeded).

  Output: JSON {ok, status?, attempt?, ready, events}; ok=false: stale outcome, nothing changed
]]
--@include "task-lib.lua"

local B = KEYS[1]
local id = ARGV[1]
local mode = ARGV[3]
local due = tonumber(ARGV[5])
local now = tonumber(ARGV[7])
local k = tkey(B, id)
local ready, events = {}, {}
local f = rcall("HMGET", k, "status", "attempt", "slot", "slotp")
if f[1] ~= "RUNNING" or f[2] ~= ARGV[2] then
  return result(false, {status = f[1] or "", attempt = tonumber(f[2] or "-1")}, ready, events)
end
releaseTaskSlot(k, f[3], f[4])
if ARGV[8] ~= "" then rcall("HSET", k, "agent", ARGV[8]) end
rcall("ZREM", B .. "running", id)
local errJson, reason = ARGV[4], ARGV[6]
local over = addCost(B, id, tonumber(ARGV[9] or "0") or 0, tonumber(ARGV[10] or "0") or 0,
  tonumber(ARGV[11] or "0") or 0)
if over and mode ~= "defer" then
  mode = "fail"
  reason = "budget_exceeded"
  errJson = cjson.encode({type = "budget_exceeded", retryable = false,
    message = "the attempts cost more than the budget of " .. over .. " allows", details = {budgetHolder = over}})
end
if mode ~= "defer" then
  local outcome = "failed"
  if mode == "retry" then outcome = "retried" elseif mode == "lost" then outcome = "lost" end
  recordAttempt(B, id, now, outcome, errJson)
end
if mode == "fail" then
  markTerminal(B, id, "FAILED", reason, now, errJson, events)
  rcall("ZADD", B .. "dead", now, id)
  cancelDescendants(B, id, now, ready, events)
  propagate(B, {id}, now, ready, events)
else
  if mode == "retry" or mode == "lost" then
    rcall("HINCRBY", k, "attempt", 1)
    rcall("HSET", k, "error", ARGV[4])
    rcall("HSET", k, "runs", 0)
  end
  if mode == "lost" then
    rcall("HINCRBY", k, "losses", 1)
    due = now
  end
  if due < now then due = now end
  makeReady(B, id, now, due, mode == "lost" and "redispatch" or ARGV[6], ready, events)
  if mode == "defer" then events[#events][1] = "waiting" else events[#events][1] = "retrying" end
end
return result(true, {}, ready, events)
