--[[
  Stores an agent's last breaker transition, unless the stored one is newer (two instances may
  write at nearly the same time; the later transition must win, not the later write).

  KEYS[1] transition record   P..'breaker:'..agentId   (STRING, JSON of breakerTransitionSchema)
  KEYS[2] index               P..'breakers'            (ZSET agentId -> record expiry, epoch ms)
  ARGV[1] the transition, JSON
  ARGV[2] its time `at` (epoch ms)
  ARGV[3] TTL of the record (ms)
  ARGV[4] when the record expires (epoch ms), the index score
  ARGV[5] agent id

  Returns 1 when stored, 0 when a newer transition was already stored (it is kept).
]]
local current = redis.call('GET', KEYS[1])
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' then
    local at = tonumber(record['at'])
    if at and at > tonumber(ARGV[2]) then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
return 1
