--[[
  Stores a batch of new tasks (one task, a whole workflow, or a bulk load), records dependency
  edges both ways and sets each task READY (no unmet dependency), BLOCKED, or - when a dependency
  already ended FAILED/CANCELLED - whatever its dependency-failure policy says. All or nothing.

  Input:
    KEYS[1] base key B of the queue (e.g. "sy:q:tasks:")
    ARGV[1] JSON {tasks = [{id, wf, ref, desc, cap, payload (JSON text), prio, deps = [ids], depsJson,
                  onDep, timeout, retry (JSON text), idem, bUsd, bTok,
                  tp, ts = W3C traceparent/tracestate of the submitting span (only when tracing is on)}],
                  workflow = {id, name, idem, bUsd, bTok} | null,
                  idem = key of a single-task submission | null, idemReuseFailed = bool,
                  parent = parent task id | null (a delegated child: one task only),
                  limits = {maxDepth, maxChildren, maxRepeats}}
    ARGV[2] now (ms)

  Output: JSON {ok, created, ids, existing?, existingStatus?, conflict?, refused?, ready, events}
    ok=false, existing=<id>  the idempotency key was seen before: nothing written
    ok=false, conflict=<id>  a task with that id already exists: nothing written
    ok=false, refused={code, message, details}  a delegation limit or budget: nothing written

  A child (parent set) gets parent, root (the parent's root) and depth (parent's + 1). Refused:
  an unknown or finished parent, depth over maxDepth, more than maxChildren children, a chain that
  already holds the delegating agent for the same capability more than maxRepeats times, or an
  ancestor (or the root's workflow) with no budget left. With idemReuseFailed, a key that points
  at a FAILED/CANCELLED task is taken over by the new task (a retried parent re-delegating).
]]
--@include "task-lib.lua"

local B = KEYS[1]
local input = cjson.decode(ARGV[1])
local now = tonumber(ARGV[2])
local tasks = input.tasks
local wfIn = input.workflow
local ready, events = {}, {}

-- Idempotent submission: the same key returns the same task/workflow, never a second.
-- The same key with a different body is a client bug, not a retry: refused (409) naming the key.
local function sameBody(hashKey, existingKey)
  if type(input.idemHash) ~= "string" then return true end
  local h = rcall("HGET", existingKey, "idemHash")
  return (not h) or h == "" or h == input.idemHash
end
local function idemMismatch(key)
  return result(false, {refused = {code = "CONFLICT", message = "idempotency key '" .. key ..
    "' was used before with a different request body", details = {idempotencyKey = key}}}, ready, events)
end
if type(wfIn) == "table" and type(wfIn.idem) == "string" then
  local existing = rcall("GET", B .. "widem:" .. wfIn.idem)
  if existing then
    if not sameBody(nil, B .. "w:" .. existing) then return idemMismatch(wfIn.idem) end
    return result(false, {existing = existing}, ready, events)
  end
end
if type(input.idem) == "string" then
  local existing = rcall("GET", B .. "idem:" .. input.idem)
  if existing then
    local est = rcall("HGET", tkey(B, existing), "status")
    if not (input.idemReuseFailed == true and (est == "FAILED" or est == "CANCELLED" or not est)) then
      if not sameBody(nil, tkey(B, existing)) then return idemMismatch(input.idem) end
      return result(false, {existing = existing, existingStatus = est or ""}, ready, events)
    end
  end
end

-- A delegated child: its parent must be live and the tree within its limits and budgets.
local parentId = nil
local parentFields = nil
if type(input.parent) == "string" then
  parentId = input.parent
  local pf = rcall("HMGET", tkey(B, parentId), "status", "root", "depth", "agent")
  local function refuse(code, message, details)
    return result(false, {refused = {code = code, message = message, details = details or {}}}, ready, events)
  end
  if not pf[1] then return refuse("NOT_FOUND", "parent task " .. parentId .. " does not exist") end
  if pf[1] == "COMPLETED" or pf[1] == "FAILED" or pf[1] == "CANCELLED" then
    return refuse("CONFLICT", "parent task " .. parentId .. " is already " .. pf[1], {status = pf[1]})
  end
  local depth = tonumber(pf[3] or "0") + 1
  local lim = input.limits or {}
  if depth > tonumber(lim.maxDepth or 5) then
    return refuse("DELEGATION_LIMIT", "delegation depth " .. depth .. " is over the limit of " .. lim.maxDepth,
      {limit = "depth", max = lim.maxDepth})
  end
  local nChildren = rcall("ZCARD", tkey(B, parentId) .. ":children")
  if nChildren >= tonumber(lim.maxChildren or 50) then
    return refuse("DELEGATION_LIMIT", "task " .. parentId .. " already has " .. nChildren ..
      " children (limit " .. lim.maxChildren .. ")", {limit = "children", max = lim.maxChildren})
  end
  local cap = tasks[1].cap
  local agent = pf[4] or ""
  local repeats, cur, chain = 0, parentId, {}
  while cur and cur ~= "" do
    local af = rcall("HMGET", tkey(B, cur), "cap", "agent", "parent", "bUsd", "bTok", "tUsd", "tIn", "tOut")
    chain[#chain + 1] = cur
    if agent ~= "" and af[1] == cap and af[2] == agent then repeats = repeats + 1 end
    local bUsd, bTok = tonumber(af[4] or "0") or 0, tonumber(af[5] or "0") or 0
    local used = tonumber(af[6] or "0") or 0
    local usedTok = (tonumber(af[7] or "0") or 0) + (tonumber(af[8] or "0") or 0)
    if (bUsd > 0 and used >= bUsd) or (bTok > 0 and usedTok >= bTok) then
      return refuse("BUDGET_EXCEEDED", "task " .. cur .. " has no budget left (used $" .. used ..
        " of $" .. bUsd .. ", " .. usedTok .. " of " .. bTok .. " tokens)", {budgetHolder = cur})
    end
    if not af[3] or af[3] == "" then
      local wf = rcall("HGET", tkey(B, cur), "wf")
      if wf and wf ~= "" then
        local w = rcall("HMGET", B .. "w:" .. wf, "bUsd", "bTok", "cUsd", "cIn", "cOut")
        local wbUsd, wbTok = tonumber(w[1] or "0") or 0, tonumber(w[2] or "0") or 0
        local wUsed = tonumber(w[3] or "0") or 0
        local wTok = (tonumber(w[4] or "0") or 0) + (tonumber(w[5] or "0") or 0)
        if (wbUsd > 0 and wUsed >= wbUsd) or (wbTok > 0 and wTok >= wbTok) then
          return refuse("BUDGET_EXCEEDED", "workflow " .. wf .. " has no budget left", {budgetHolder = "workflow " .. wf})
        end
      end
    end
    cur = af[3]
  end
  if repeats > tonumber(lim.maxRepeats or 2) then
    return refuse("DELEGATION_LIMIT", "delegation cycle: agent " .. agent .. " already handles '" .. cap ..
      "' " .. repeats .. " times in this chain", {limit = "cycle", agent = agent, capability = cap, chain = chain})
  end
  parentFields = {root = (pf[2] ~= nil and pf[2] ~= "") and pf[2] or parentId, depth = depth}
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
    "idem", type(wfIn.idem) == "string" and wfIn.idem or "",
    "bUsd", tonumber(wfIn.bUsd) or 0, "bTok", tonumber(wfIn.bTok) or 0)
  if type(wfIn.idem) == "string" then
    rcall("SET", B .. "widem:" .. wfIn.idem, wfIn.id)
    if type(input.idemHash) == "string" then rcall("HSET", wk, "idemHash", input.idemHash) end
  end
end
if type(input.idem) == "string" then
  rcall("SET", B .. "idem:" .. input.idem, tasks[1].id)
  if type(input.idemHash) == "string" then rcall("HSET", tkey(B, tasks[1].id), "idemHash", input.idemHash) end
end

-- Pass 1: every record exists before any edge is looked at (tasks of a batch may depend on
-- each other in any order).
local ids = {}
for i, t in ipairs(tasks) do
  local seq = rcall("INCR", B .. "seq")
  local k = tkey(B, t.id)
  local wf = ""
  if type(t.wf) == "string" then wf = t.wf end
  -- Optional fields are stored only when set (an absent field reads as "" / the default:
  -- onDep "fail", no retry override), which keeps the record small.
  local fields = {"id", t.id, "cap", t.cap, "payload", t.payload, "prio", t.prio, "deps", t.depsJson,
    "timeout", t.timeout, "status", "NEW", "attempt", 0, "gen", 0, "runs", 0, "created", now,
    "updated", now, "seq", seq}
  local function optional(name, value)
    if type(value) == "string" and value ~= "" then
      fields[#fields + 1] = name
      fields[#fields + 1] = value
    end
  end
  optional("wf", wf)
  optional("ref", t.ref)
  optional("desc", t.desc)
  optional("retry", t.retry)
  optional("idem", t.idem)
  if t.onDep ~= "fail" then optional("onDep", t.onDep) end
  rcall("HSET", k, unpack(fields))
  if (tonumber(t.waitTo) or 0) > 0 then rcall("HSET", k, "waitTo", tonumber(t.waitTo)) end
  -- The dispatch span of every attempt is a child of this context (one trace per task tree).
  if type(t.tp) == "string" and t.tp ~= "" then
    rcall("HSET", k, "tp", t.tp)
    if type(t.ts) == "string" and t.ts ~= "" then rcall("HSET", k, "ts", t.ts) end
  end
  if tonumber(t.bUsd) or tonumber(t.bTok) then
    rcall("HSET", k, "bUsd", tonumber(t.bUsd) or 0, "bTok", tonumber(t.bTok) or 0)
  end
  if parentFields then
    rcall("HSET", k, "parent", parentId, "root", parentFields.root, "depth", parentFields.depth)
    rcall("ZADD", tkey(B, parentId) .. ":children", seq, t.id)
  end
  if wf ~= "" then rcall("ZADD", B .. "w:" .. wf .. ":tasks", seq, t.id) end
  -- Runs index, newest last (GET /v1/workflows, the console): a workflow at its first task's seq, a standalone task at its own.
  if wf == "" then rcall("ZADD", B .. "runs", seq, "t:" .. t.id) elseif i == 1 then rcall("ZADD", B .. "runs", seq, "w:" .. wf) end
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
    -- for the deadlock detector (blocked-edges-1.lua).
    if rcall("SCARD", k .. ":dependents") > 0 then rcall("SADD", B .. "suspects", t.id) end
  end
end

local statuses = {}
for i, id in ipairs(ids) do statuses[i] = rcall("HGET", tkey(B, id), "status") end
return result(true, {created = true, ids = ids, statuses = statuses}, ready, events)
