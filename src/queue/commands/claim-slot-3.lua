--[[
  Takes (or gives back) one task slot on an agent for the RUNNING attempt of a task, and records
  it on the task in the same step: the dispatch loop's slot reservation. The attempt's slot is
  given back by whichever script ends the attempt (complete, fail, park, cancel, see
  releaseTaskSlot in task-lib.lua), so the dispatch loop never releases a slot itself on the
  normal path, and a slot is given back exactly once.

  Input:
    KEYS[1] base key B
    KEYS[2] agent hash         P..'agent:'..agentId
    KEYS[3] expiry index       P..'agent_expiry'
    ARGV[1] task id
    ARGV[2] attempt
    ARGV[3] agent id
    ARGV[4] discovery key prefix P
    ARGV[5] "claim" | "release" (give the slot back without ending the attempt, e.g. the agent's
            breaker opened before the task was sent)

  Output: { 1, load, maxLoad } when claimed/released; { -1 } when the attempt is not (or no
  longer) the caller's: the task is not RUNNING with that attempt, or it already holds a slot
  (claim); { 0 } when the agent refuses (unknown, expired, not accepting work or full) or, for a
  release, the task holds no slot on that agent.
  A claim also sets the record's agent (who runs the attempt, visible while it runs).
]]
--@include "task-lib.lua"

local k = tkey(KEYS[1], ARGV[1])
local agent, prefix = ARGV[3], ARGV[4]
local f = rcall("HMGET", k, "status", "attempt", "slot")
if f[1] ~= "RUNNING" or f[2] ~= ARGV[2] then return { -1 } end
if ARGV[5] == "release" then
  if f[3] ~= agent then return { 0 } end
  rcall("HDEL", k, "slot", "slotp")
  local load, max_load = release_slot(prefix, KEYS[2], agent)
  if not load then return { 0 } end
  return { 1, load, max_load }
end
if f[3] then return { -1 } end
local load, max_load = reserve_slot(prefix, KEYS[2], agent)
if not load then return { 0 } end
rcall("HSET", k, "slot", agent, "slotp", prefix, "agent", agent)
return { 1, load, max_load }
