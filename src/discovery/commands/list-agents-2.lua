--[[
  One step of listing live agents in id order with filters. Examines at most `budget` ids after
  the cursor, so a call stays short however selective the filters are; the caller repeats until
  the page is full or `done`.

  KEYS[1] id index       P..'agent_ids'
  KEYS[2] expiry index   P..'agent_expiry'
  ARGV[1] key prefix P
  ARGV[2] cursor: list ids strictly after this one ('' = from the start)
  ARGV[3] limit (records wanted)
  ARGV[4] budget (ids examined at most)
  ARGV[5] capability ('' = any)
  ARGV[6] allowed statuses, comma-separated ('' = any)
  ARGV[7] min health score (0..1)
  ARGV[8] max load ratio (a number, or '+inf')

  Returns { done (1|0), last id examined or nil, records (AGENT_FIELDS order) }.
]]
--@include "lib-agent.lua"

local prefix = ARGV[1]
local start = ARGV[2] == '' and '-' or '(' .. ARGV[2]
local limit = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local cap_key = ARGV[5] ~= '' and (prefix .. 'capability:' .. ARGV[5]) or nil
local allowed = csv_set(ARGV[6])
local min_health = tonumber(ARGV[7])
local max_ratio = ARGV[8] == '+inf' and math.huge or tonumber(ARGV[8])
local now = now_ms()

local ids = redis.call('ZRANGEBYLEX', KEYS[1], start, '+', 'LIMIT', 0, budget)
local out = {}
local last = false
local stopped_early = false
for i, id in ipairs(ids) do
  last = id
  local exp = redis.call('ZSCORE', KEYS[2], id)
  if exp and tonumber(exp) > now and (cap_key == nil or redis.call('SISMEMBER', cap_key, id) == 1) then
    local rec = read_agent(prefix, id)
    local status, load, max_load, health = rec[5], tonumber(rec[6]), tonumber(rec[7]), tonumber(rec[8])
    if status and (allowed == nil or allowed[status]) and health >= min_health
      and load / max_load <= max_ratio then
      out[#out + 1] = rec
      if #out >= limit then
        stopped_early = i < #ids
        break
      end
    end
  end
end
local done = (not stopped_early and #ids < budget) and 1 or 0
return { done, last, out }
