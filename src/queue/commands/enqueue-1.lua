--[[
  Stores a batch of new tasks (one task, a whole workflow, or a bulk load), records dependency
  edges both ways and sets each task READY (no unmet dependency), BLOCKED, or - when a dependency
  already ended FAILED/CANCELLED - whatever its dependency-failure policy says. All or nothing.

  Input:
    KEYS[1] base key B of the queue (e.g. "sy:q:tasks:")
    ARGV[1] JSON {tasks = [{id, wf, ref, desc, cap, payload (JSON text), prio, deps = [ids], depsJson,
                  onDep, timeout, retry (JSON text), idem}], workflow = {id, name, idem} | null,
                  idem = key of a single-task submission | null}
    ARGV[2] now (ms)

  Output: JSON {ok, created, ids, existing?, conflict?, ready = list of {id, gen, prio, due}, events}
    ok=false, existing=<id>  the idempotency key was seen before: nothing written
    ok=false, conflict=<id>  a task with that id already exists: nothing written
]]
--@include "task-lib.lua"

local B = KEYS[1]
local input = cjson.decode(ARGV[1])
local now = tonumber(ARGV[2])
local tasks = input.tasks
local wfIn = input.workflow
local ready, events = {}, {}

-- Idempotent submission: the same key returns the same task/workflow, never a second.
if type(wfIn) == "table" and type(wfIn.idem) == "string" then
  local existing = rcall("GET", B .. "widem:" .. wfIn.idem)
  if existing then return result(false, {existing = existing}, ready, events) end
end
if type(input.idem) == "string" then
  local existing = rcall("GET", B .. "idem:" .. input.idem)
  if existing then return result(false, {existing = existing}, ready, events) end
end
for _, t in ipairs(tasks) do
  if rcall("EXISTS", tkey(B, t.id)) == 1 then
    return result(false, {conflict = t.id}, ready, events)
  end
end

if type(wfIn) == "table" then
  local wk = B .. "w:" .. wfIn.id
  rcall("HSET", wk, "id", wfIn.id, "name", type(wfIn.name) == "string" and wfIn.name or "", "status", "RUNNING", "total", #tasks,
    "done", 0, "completed", 0, "failed", 0, "cancelled", 0, "created", now, "updated", now,
    "idem", type(wfIn.idem) == "string" and wfIn.idem or "")
  if type(wfIn.idem) == "string" then rcall("SET", B .. "widem:" .. wfIn.idem, wfIn.id) end
end
if type(input.idem) == "string" then rcall("SET", B .. "idem:" .. input.idem, tasks[1].id) end

-- Pass 1: every record exists before any edge is looked at (tasks of a batch may depend on
-- each other in any order).
local ids = {}
for i, t in ipairs(tasks) do
  local seq = rcall("INCR", B .. "seq")
  local k = tkey(B, t.id)
  local wf = ""
  if type(t.wf) == "string" then wf = t.wf end
  rcall("HSET", k, "id", t.id, "wf", wf, "ref", type(t.ref) == "string" and t.ref or "",
    "desc", type(t.desc) == "string" and t.desc or "", "cap", t.cap, "payload", t.payload,
    "prio", t.prio, "deps", t.depsJson, "onDep", t.onDep, "timeout", t.timeout,
    "retry", t.retry, "idem", type(t.idem) == "string" and t.idem or "", "status", "NEW",
    "attempt", 0, "gen", 0, "runs", 0, "created", now, "updated", now, "seq", seq)
  rcall("ZADD", B .. "all", seq, t.id)
  if wf ~= "" then rcall("ZADD", B .. "w:" .. wf .. ":tasks", seq, t.id) end
  ids[i] = t.id
  pushEvent(B, events, "created", t.id, "")
end

-- Pass 2: edges both ways; READY, BLOCKED or settled by an already-failed dependency.
for _, t in ipairs(tasks) do
  local k = tkey(B, t.id)
  local upstreamFailed = nil
  for _, dep in ipairs(t.deps) do
    rcall("SADD", tkey(B, dep) .. ":dependents", t.id)
    local dst = rcall("HGET", tkey(B, dep), "status")
    if dst == "COMPLETED" then
      -- satisfied
    elseif dst == "FAILED" or dst == "CANCELLED" then
      if t.onDep ~= "continue" and not upstreamFailed then upstreamFailed = {dep, dst} end
    else
      rcall("SADD", k .. ":pending", dep)
    end
  end
  if upstreamFailed then
    local err = cjson.encode({type = "upstream_failed", retryable = false,
      message = "dependency " .. upstreamFailed[1] .. " ended " .. upstreamFailed[2],
      details = {dependency = upstreamFailed[1]}})
    local final = "FAILED"
    if t.onDep == "skip" then final = "CANCELLED" end
    rcall("DEL", k .. ":pending")
    markTerminal(B, t.id, final, "upstream_failed", now, err, events)
    propagate(B, {t.id}, now, ready, events)
  elseif rcall("SCARD", k .. ":pending") == 0 then
    makeReady(B, t.id, now, now, "", ready, events)
  else
    rcall("HSET", k, "status", "BLOCKED")
    rcall("ZADD", B .. "s:BLOCKED", rcall("HGET", k, "seq"), t.id)
    -- A cycle can only close through a task that others were already waiting for: remember it
    -- for the deadlock detector (blocked-graph-1.lua).
    if rcall("SCARD", k .. ":dependents") > 0 then rcall("SADD", B .. "suspects", t.id) end
  end
end

return result(true, {created = true, ids = ids}, ready, events)
