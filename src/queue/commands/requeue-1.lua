--[[
  Takes a task out of the dead-letter set and runs it again from attempt 0. Its dependents that
  had been failed or skipped because of it (reason upstream_failed) are revived too, transitively:
  they are BLOCKED again until their dependencies complete. Workflow counters are rolled back.

  Input:
    KEYS[1] base key B
    ARGV[1] task id
    ARGV[2] now (ms)

  Output: JSON {ok, status?, revived = [ids], ready, events}
    ok=false, status=""       unknown task
    ok=false, status=<status> not in the dead-letter set
]]
--@include "task-lib.lua"

local B = KEYS[1]
local id = ARGV[1]
local now = tonumber(ARGV[2])
local ready, events, revived = {}, {}, {}
local k = tkey(B, id)
local st = rcall("HGET", k, "status")
if not st then return result(false, {status = ""}, ready, events) end
if st ~= "FAILED" or rcall("ZSCORE", B .. "dead", id) == false then
  return result(false, {status = st}, ready, events)
end

local function reopen(t, status)
  local tk = tkey(B, t)
  local wf = rcall("HGET", tk, "wf")
  if wf and wf ~= "" then
    local wk = B .. "w:" .. wf
    rcall("HINCRBY", wk, "done", -1)
    rcall("HINCRBY", wk, string.lower(status), -1)
    rcall("HSET", wk, "status", "RUNNING", "updated", now)
    rcall("HDEL", wk, "finished")
  end
  rcall("HDEL", tk, "error", "finished", "result")
  rcall("ZREM", B .. "ended", t)
  rcall("HSET", tk, "attempt", 0, "runs", 0)
  rcall("HDEL", tk, "reason")
end

-- Can `t` run again? Not while another dependency it does not `continue` past has failed.
local function revivable(t)
  local tk = tkey(B, t)
  local policy = rcall("HGET", tk, "onDep")
  if policy == "continue" then return true end
  for _, dep in ipairs(cjson.decode(rcall("HGET", tk, "deps"))) do
    local dst = rcall("HGET", tkey(B, dep), "status")
    if dst == "FAILED" or dst == "CANCELLED" then return false end
  end
  return true
end

-- Re-evaluates the pending dependencies of `t` from scratch.
local function settle(t)
  local tk = tkey(B, t)
  rcall("DEL", tk .. ":pending")
  local policy = rcall("HGET", tk, "onDep")
  for _, dep in ipairs(cjson.decode(rcall("HGET", tk, "deps"))) do
    local dst = rcall("HGET", tkey(B, dep), "status")
    local settled = dst == "COMPLETED"
      or (policy == "continue" and (dst == "FAILED" or dst == "CANCELLED"))
    if not settled then rcall("SADD", tk .. ":pending", dep) end
  end
  if rcall("SCARD", tk .. ":pending") == 0 then
    makeReady(B, t, now, now, "requeued", ready, events)
  else
    local f = rcall("HMGET", tk, "status", "seq")
    rcall("HSET", tk, "status", "BLOCKED", "updated", now)
    setIndex(B, t, f[1], "BLOCKED", f[2])
    rcall("SADD", B .. "suspects", t)
    pushEvent(B, events, "blocked", t, "requeued")
  end
end

rcall("ZREM", B .. "dead", id)
reopen(id, st)
makeReady(B, id, now, now, "requeued", ready, events)

local queue = {id}
local i = 1
while i <= #queue do
  local cur = queue[i]
  i = i + 1
  for _, d in ipairs(rcall("SMEMBERS", tkey(B, cur) .. ":dependents")) do
    local f = rcall("HMGET", tkey(B, d), "status", "reason")
    if (f[1] == "FAILED" or f[1] == "CANCELLED") and f[2] == "upstream_failed" and revivable(d) then
      reopen(d, f[1])
      settle(d)
      revived[#revived + 1] = d
      queue[#queue + 1] = d
    end
  end
end
return result(true, {revived = revived}, ready, events)
