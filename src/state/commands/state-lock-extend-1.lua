--[[
  Extends a document lock (the holder's watchdog), only if the caller still holds it and has
  not held it past the maximum.

  KEYS[1]  lock key
  ARGV[1]  the holder's token ("<acquiredAtMs>.<random>")
  ARGV[2]  new ttl in milliseconds
  ARGV[3]  maximum hold in milliseconds

  Returns  1 extended
           0 not held with this token any more (expired, or taken over)
          -1 held past the maximum: force-released now
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local acquiredAt = tonumber(string.match(ARGV[1], '^(%d+)%.'))
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if acquiredAt == nil or nowMs - acquiredAt > tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return -1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
