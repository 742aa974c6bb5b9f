--[[
  Shared fragment (included, not a command): the task lifecycle bookkeeping every script uses.

  Keys, all under the base B (e.g. "sy:q:tasks:"):
    B.."t:"..id               hash   the task record (source of truth)
    B.."t:"..id..":pending"   set    dependency ids not yet satisfied
    B.."t:"..id..":dependents" set   ids of tasks that named this one in dependsOn
    B.."t:"..id..":children"  zset   delegated child task ids, score = creation sequence
    B.."t:"..id..":attempts"  list   JSON of each attempt that ended (last 50), see recordAttempt;
                                     absent when the only attempt completed
    B.."s:"..STATUS           zset   ids per status, score = creation sequence
    B.."all"                  zset   legacy (no longer written: the union of the s:STATUS sets is every
                                     task); purge still removes its members, so it drains by itself
    B.."outbox"               zset   "id#gen" of READY tasks whose BullMQ job may not exist yet, score = ms
    B.."running"              zset   RUNNING ids, score = deadline ms (start + timeout + grace)
    B.."delayed"              zset   READY ids waiting for a retry/deferral, score = ms they are due
    B.."dead"                 zset   dead-letter: ids that FAILED on their own, score = ms
    B.."suspects"             set    BLOCKED ids through which a dependency cycle may have closed
    B.."w:"..wf               hash   workflow record (total, done, completed, failed, cancelled, status)
    B.."w:"..wf..":tasks"     zset   the workflow's task ids, score = creation sequence
    B.."ended"                zset   terminal task ids, score = ms they ended (retention)
    B.."runs"                 zset   "w:"..wf / "t:"..id of runs (GET /v1/workflows, the console)
    B.."ch:done"              channel "id|status" of watched tasks (field watch=1) that ended
    B.."ch:cancel"            channel "id|attempt" of RUNNING tasks that were cancelled

  Task fields of delegation trees: parent, root, depth; budgets bUsd/bTok (0 = none); own cost
  cUsd/cIn/cOut and the subtree's tUsd/tIn/tOut (own + descendants). A workflow hash keeps the
  same budget and cost fields for all its tasks and their descendants.

  Events are appended to the `events` table as {kind, id, reason, capability, workflowId, agentId}
  and returned to the caller, which emits them after the script succeeded.
]]
local rcall = redis.call
--@include "../../discovery/commands/lib-agent.lua"
--@include "../../discovery/commands/lib-slot.lua"

local function tkey(B, id)
  return B .. "t:" .. id
end

local function pushEvent(B, events, kind, id, reason)
  local f = rcall("HMGET", tkey(B, id), "cap", "wf", "agent", "attempt", "prio")
  events[#events + 1] = {kind, id, reason or "", f[1] or "", f[2] or "", f[3] or "", f[4] or "0", f[5] or "0"}
end

-- The record's `reason`: stored when there is one, absent otherwise (absent reads as "").
local function setReason(k, reason)
  if reason and reason ~= "" then
    rcall("HSET", k, "reason", reason)
  else
    rcall("HDEL", k, "reason")
  end
end

local function setIndex(B, id, from, to, seq)
  if from and from ~= "" and from ~= to then
    rcall("ZREM", B .. "s:" .. from, id)
  end
  rcall("ZADD", B .. "s:" .. to, seq, id)
end

-- Gives back the agent slot an attempt holds (fields slot = agent id, slotp = discovery key
-- prefix, written by claim-slot-3.lua) in the same step that ends the attempt: the fields go with
-- the release, so a slot is given back exactly once whichever path ends the attempt (complete,
-- fail, retry, defer, park, cancel, timeout, a restart after a crash).
local function releaseTaskSlot(k, slot, slotp)
  if not slot then return end
  rcall("HDEL", k, "slot", "slotp")
  release_slot(slotp, agent_key(slotp, slot), slot)
end

-- READY with a new generation, and an outbox entry until its BullMQ job is known to exist.
-- `due` > now means a delayed (retry or deferred) READY task.
local function makeReady(B, id, now, due, reason, ready, events)
  local k = tkey(B, id)
  local f = rcall("HMGET", k, "status", "seq", "prio", "retryAt", "cap")
  local gen = rcall("HINCRBY", k, "gen", 1)
  rcall("HSET", k, "status", "READY", "updated", now, "readyAt", due)
  setReason(k, reason)
  setIndex(B, id, f[1], "READY", f[2])
  rcall("ZADD", B .. "outbox", now, id .. "#" .. gen)
  if due > now then
    rcall("HSET", k, "retryAt", due)
    rcall("ZADD", B .. "delayed", due, id)
  elseif f[4] then
    rcall("HDEL", k, "retryAt")
    rcall("ZREM", B .. "delayed", id)
  end
  -- A re-dispatch after an infrastructure loss goes ahead of new work of the same priority.
  local jobPrio = tonumber(f[3])
  if reason == "redispatch" then jobPrio = jobPrio + 0.5 end
  -- the capability rides on the job, so the runner can pick an agent before it starts the task
  ready[#ready + 1] = {id, gen, jobPrio, due, f[5] or ""}
  pushEvent(B, events, "ready", id, reason)
end

local function workflowTaskDone(B, wf, status, now, events)
  if not wf or wf == "" then return end
  local wk = B .. "w:" .. wf
  local done = rcall("HINCRBY", wk, "done", 1)
  rcall("HINCRBY", wk, string.lower(status), 1)
  local total = tonumber(rcall("HGET", wk, "total") or "0")
  if done >= total then
    local cur = rcall("HGET", wk, "status")
    local failed = tonumber(rcall("HGET", wk, "failed") or "0")
    local cancelled = tonumber(rcall("HGET", wk, "cancelled") or "0")
    local final = "COMPLETED"
    if cur == "CANCELLING" then final = "CANCELLED"
    elseif failed > 0 then final = "FAILED"
    elseif cancelled > 0 then final = "CANCELLED" end
    rcall("HSET", wk, "status", final, "updated", now, "finished", now)
    events[#events + 1] = {"workflow", wf, final, "", wf, "", "0", "0"}
  end
end

-- Marks a non-terminal task terminal (no propagation: see propagate).
local function markTerminal(B, id, status, reason, now, errJson, events)
  local k = tkey(B, id)
  local f = rcall("HMGET", k, "status", "seq", "gen", "wf", "retryAt", "watch", "attempt", "slot",
    "slotp")
  releaseTaskSlot(k, f[8], f[9])
  rcall("HSET", k, "status", status, "updated", now, "finished", now)
  setReason(k, reason)
  -- readyAt only serves a READY task (reconciler, dispatch latency): a finished one drops it.
  rcall("HDEL", k, "readyAt")
  if errJson and errJson ~= "" then rcall("HSET", k, "error", errJson) end
  setIndex(B, id, f[1], status, f[2])
  -- Retention: terminal tasks leave Redis (archived) TASK_RETENTION_SECONDS after they ended.
  rcall("ZADD", B .. "ended", now, id)
  if f[1] == "RUNNING" then
    rcall("ZREM", B .. "running", id)
  elseif f[1] == "READY" then
    -- its job may not have started yet: the outbox entry goes, the stale job is ignored
    rcall("ZREM", B .. "outbox", id .. "#" .. (f[3] or "0"))
  end
  if f[5] then
    rcall("HDEL", k, "retryAt")
    rcall("ZREM", B .. "delayed", id)
  end
  pushEvent(B, events, string.lower(status), id, reason)
  workflowTaskDone(B, f[4], status, now, events)
  -- Someone waits for this task (waitForTerminal), maybe on another control plane.
  if f[6] then rcall("PUBLISH", B .. "ch:done", id .. "|" .. status) end
  -- Whoever runs it must stop, on whichever control plane it runs.
  if f[1] == "RUNNING" and status == "CANCELLED" then
    rcall("PUBLISH", B .. "ch:cancel", id .. "|" .. (f[7] or "0"))
  end
end

-- After tasks in `queue` reached a terminal status: release or fail their dependents according
-- to each dependent's policy, transitively.
local function propagate(B, queue, now, ready, events)
  local i = 1
  while i <= #queue do
    local id = queue[i]
    i = i + 1
    local k = tkey(B, id)
    local status = rcall("HGET", k, "status")
    local dependents = rcall("SMEMBERS", k .. ":dependents")
    for _, d in ipairs(dependents) do
      local dk = tkey(B, d)
      -- Only a dependency still counted as pending can change the dependent (exactly once).
      if rcall("SREM", dk .. ":pending", id) == 1 and rcall("HGET", dk, "status") == "BLOCKED" then
        local policy = rcall("HGET", dk, "onDep")
        if status == "COMPLETED" or policy == "continue" then
          if rcall("SCARD", dk .. ":pending") == 0 then
            makeReady(B, d, now, now, "", ready, events)
          end
        else
          local err = cjson.encode({type = "upstream_failed", retryable = false,
            message = "dependency " .. id .. " ended " .. status, details = {dependency = id}})
          if policy == "skip" then
            markTerminal(B, d, "CANCELLED", "upstream_failed", now, err, events)
          else
            markTerminal(B, d, "FAILED", "upstream_failed", now, err, events)
          end
          queue[#queue + 1] = d
        end
      end
    end
  end
end

-- A task that ended FAILED or CANCELLED takes its unfinished delegated descendants with it
-- (CANCELLED, reason parent_failed / parent_cancelled); their dependents follow their policy.
local function cancelDescendants(B, id, now, ready, events)
  local status = rcall("HGET", tkey(B, id), "status")
  if status ~= "FAILED" and status ~= "CANCELLED" then return end
  local reason = "parent_" .. string.lower(status)
  local stack, ended = {id}, {}
  while #stack > 0 do
    local cur = table.remove(stack)
    for _, c in ipairs(rcall("ZRANGE", tkey(B, cur) .. ":children", 0, -1)) do
      local cs = rcall("HGET", tkey(B, c), "status")
      if cs == "BLOCKED" or cs == "READY" or cs == "RUNNING" or cs == "NEW" then
        local err = cjson.encode({type = "cancelled", retryable = false,
          message = "cancelled: its parent task " .. cur .. " ended", details = {parentTaskId = cur}})
        markTerminal(B, c, "CANCELLED", reason, now, err, events)
        ended[#ended + 1] = c
      end
      stack[#stack + 1] = c
    end
  end
  if #ended > 0 then propagate(B, ended, now, ready, events) end
end

-- Adds one attempt's cost to the task, to its subtree totals and those of every ancestor, and to
-- the root's workflow. Returns the id of the first budget holder now over its budget, or nil.
local function addCost(B, id, usd, tin, tout)
  if usd == 0 and tin == 0 and tout == 0 then return nil end
  local k = tkey(B, id)
  rcall("HINCRBYFLOAT", k, "cUsd", usd)
  rcall("HINCRBY", k, "cIn", tin)
  rcall("HINCRBY", k, "cOut", tout)
  local over = nil
  local cur = id
  local root = id
  while cur and cur ~= "" do
    local ck = tkey(B, cur)
    local tUsd = tonumber(rcall("HINCRBYFLOAT", ck, "tUsd", usd))
    local tIn = rcall("HINCRBY", ck, "tIn", tin)
    local tOut = rcall("HINCRBY", ck, "tOut", tout)
    local b = rcall("HMGET", ck, "bUsd", "bTok", "parent")
    local bUsd, bTok = tonumber(b[1] or "0") or 0, tonumber(b[2] or "0") or 0
    if not over and ((bUsd > 0 and tUsd > bUsd) or (bTok > 0 and tIn + tOut > bTok)) then over = cur end
    root = cur
    cur = b[3]
  end
  local wf = rcall("HGET", tkey(B, root), "wf")
  if wf and wf ~= "" then
    local wk = B .. "w:" .. wf
    local wUsd = tonumber(rcall("HINCRBYFLOAT", wk, "cUsd", usd))
    local wIn = rcall("HINCRBY", wk, "cIn", tin)
    local wOut = rcall("HINCRBY", wk, "cOut", tout)
    local b = rcall("HMGET", wk, "bUsd", "bTok")
    local bUsd, bTok = tonumber(b[1] or "0") or 0, tonumber(b[2] or "0") or 0
    if not over and ((bUsd > 0 and wUsd > bUsd) or (bTok > 0 and wIn + wOut > bTok)) then over = "workflow " .. wf end
  end
  return over
end

-- Appends the attempt that just ended to the task's history (t:<id>:attempts, the last 50):
-- attempt number, agent, start/end (ms), outcome and error type. Call before the record changes.
local function recordAttempt(B, id, now, outcome, errJson)
  local k = tkey(B, id)
  -- Most tasks complete at their first attempt: then no list is kept (~280 bytes a task). The
  -- record's own fields (attempt, agent, started, finished) are that attempt, and the reader
  -- (task-store findTask) adds it to the history. A list starts with the first attempt that does
  -- not complete, and the completing attempt is appended to it as before.
  if outcome == "completed" and rcall("EXISTS", k .. ":attempts") == 0 then return end
  local f = rcall("HMGET", k, "attempt", "agent", "started")
  local errType = nil
  if errJson and errJson ~= "" then
    local okDecode, err = pcall(cjson.decode, errJson)
    if okDecode and type(err) == "table" and type(err.type) == "string" then errType = err.type end
  end
  rcall("RPUSH", k .. ":attempts", cjson.encode({attempt = tonumber(f[1] or "0"), agent = f[2] or "",
    startedAt = tonumber(f[3] or "0"), endedAt = now, outcome = outcome, errorType = errType}))
  rcall("LTRIM", k .. ":attempts", -50, -1)
end

local function result(ok, extra, ready, events)
  extra = extra or {}
  extra.ok = ok
  extra.ready = ready
  extra.events = events
  return cjson.encode(extra)
end
