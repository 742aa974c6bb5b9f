--[[
  Shared fragment (included, not a command): the task lifecycle bookkeeping every script uses.

  Keys, all under the base B (e.g. "sy:q:tasks:"):
    B.."t:"..id               hash   the task record (source of truth)
    B.."t:"..id..":pending"   set    dependency ids not yet satisfied
    B.."t:"..id..":dependents" set   ids of tasks that named this one in dependsOn
    B.."s:"..STATUS           zset   ids per status, score = creation sequence
    B.."all"                  zset   every task id, score = creation sequence
    B.."outbox"               zset   "id#gen" of READY tasks whose BullMQ job may not exist yet, score = ms
    B.."running"              zset   RUNNING ids, score = deadline ms (start + timeout + grace)
    B.."delayed"              zset   READY ids waiting for a retry/deferral, score = ms they are due
    B.."dead"                 zset   dead-letter: ids that FAILED on their own, score = ms
    B.."suspects"             set    BLOCKED ids through which a dependency cycle may have closed
    B.."w:"..wf               hash   workflow record (total, done, completed, failed, cancelled, status)
    B.."w:"..wf..":tasks"     zset   the workflow's task ids, score = creation sequence

  Events are appended to the `events` table as {kind, id, reason, capability, workflowId, agentId}
  and returned to the caller, which emits them after the script succeeded.
]]
local rcall = redis.call

local function tkey(B, id)
  return B .. "t:" .. id
end

local function pushEvent(B, events, kind, id, reason)
  local f = rcall("HMGET", tkey(B, id), "cap", "wf", "agent", "attempt", "prio")
  events[#events + 1] = {kind, id, reason or "", f[1] or "", f[2] or "", f[3] or "", f[4] or "0", f[5] or "0"}
end

local function setIndex(B, id, from, to, seq)
  if from and from ~= "" and from ~= to then
    rcall("ZREM", B .. "s:" .. from, id)
  end
  rcall("ZADD", B .. "s:" .. to, seq, id)
end

-- READY with a new generation, and an outbox entry until its BullMQ job is known to exist.
-- `due` > now means a delayed (retry or deferred) READY task.
local function makeReady(B, id, now, due, reason, ready, events)
  local k = tkey(B, id)
  local f = rcall("HMGET", k, "status", "seq", "prio", "retryAt")
  local gen = rcall("HINCRBY", k, "gen", 1)
  rcall("HSET", k, "status", "READY", "updated", now, "readyAt", due, "reason", reason or "")
  setIndex(B, id, f[1], "READY", f[2])
  rcall("ZADD", B .. "outbox", now, id .. "#" .. gen)
  if due > now then
    rcall("HSET", k, "retryAt", due)
    rcall("ZADD", B .. "delayed", due, id)
  elseif f[4] then
    rcall("HDEL", k, "retryAt")
    rcall("ZREM", B .. "delayed", id)
  end
  ready[#ready + 1] = {id, gen, tonumber(f[3]), due}
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
  local f = rcall("HMGET", k, "status", "seq", "gen", "wf", "retryAt")
  rcall("HSET", k, "status", status, "reason", reason or "", "updated", now, "finished", now)
  if errJson and errJson ~= "" then rcall("HSET", k, "error", errJson) end
  setIndex(B, id, f[1], status, f[2])
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

local function result(ok, extra, ready, events)
  extra = extra or {}
  extra.ok = ok
  extra.ready = ready
  extra.events = events
  return cjson.encode(extra)
end
