--[[
  The deadlock detector's bounded steps (the caller walks the graph a batch at a time, so no
  single script holds Redis for long, whatever the number of BLOCKED tasks).

  mode "edges": for each given id that is BLOCKED, the pending dependencies it waits for that are
  BLOCKED too (the wait-for edges among BLOCKED tasks).
  mode "verify": is the given list still a cycle (each BLOCKED, each waiting for the next, the
  last for the first)? Checked atomically before the resolver cancels anything.

  Input:
    KEYS[1] base key B
    ARGV[1] "edges" | "verify"
    ARGV[2..] task ids (at most a few hundred per call)

  Output:
    edges:  flat list id, n, dep_1 .. dep_n for every BLOCKED id given
    verify: 1 if still a cycle, else 0
]]
local B = KEYS[1]
local rcall = redis.call
local mode = ARGV[1]

local function blocked(id)
  return rcall("HGET", B .. "t:" .. id, "status") == "BLOCKED"
end

if mode == "verify" then
  local n = #ARGV - 1
  for i = 2, #ARGV do
    local id = ARGV[i]
    local nextId = ARGV[(i - 1) % n + 2]
    if not blocked(id) then return 0 end
    if rcall("SISMEMBER", B .. "t:" .. id .. ":pending", nextId) == 0 then return 0 end
  end
  return 1
end

local flat = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if blocked(id) then
    local kept = {}
    for _, d in ipairs(rcall("SMEMBERS", B .. "t:" .. id .. ":pending")) do
      if blocked(d) then kept[#kept + 1] = d end
    end
    flat[#flat + 1] = id
    flat[#flat + 1] = #kept
    for _, d in ipairs(kept) do flat[#flat + 1] = d end
  end
end
return flat
