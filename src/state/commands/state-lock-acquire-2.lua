--[[
  Acquires a document lock (SET NX PX) and issues its fencing token.

  KEYS[1]  lock key            (string: the holder's token)
  KEYS[2]  fencing counter key (string: last fencing token issued for this lock, INCR)

  ARGV[1]  token: "<acquiredAtMs>.<random>" (unique per acquisition; the time lets any
           contender see how long the lock has been held)
  ARGV[2]  ttl in milliseconds
  ARGV[3]  maximum hold in milliseconds: a lock held longer is force-released here
  ARGV[4]  "1" = failover-safe fencing (Sentinel): the token is at least the server time in
           ms * 1000, so a master promoted after a failover (whose counter may lack the last
           increments of the old one) still issues tokens above every token issued before the
           failover. See DistributedLockService for why that holds.

  Returns  { fence, forcedToken } on success: fence is the new fencing token (monotonic per
           lock); forcedToken is the token of a holder that was force-released ("" if none)
           { 0, pttl } when the lock is held by someone else (pttl: its remaining ttl in ms)
]]
local forced = ''
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local current = redis.call('GET', KEYS[1])
  local acquiredAt = current and tonumber(string.match(current, '^(%d+)%.'))
  local now = redis.call('TIME')
  local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  if current == false or acquiredAt == nil or nowMs - acquiredAt <= tonumber(ARGV[3]) then
    return { 0, redis.call('PTTL', KEYS[1]) }
  end
  -- Held past the maximum: the holder is stuck or its watchdog misbehaves. Take it over.
  forced = current
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
if ARGV[4] ~= '1' then
  return { redis.call('INCR', KEYS[2]), forced }
end
local t = redis.call('TIME')
local floor = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) * 1000
local fence = math.max(tonumber(redis.call('GET', KEYS[2]) or '0') + 1, floor)
-- %.0f: Lua would print a 16-digit number as 1.7e+15.
redis.call('SET', KEYS[2], string.format('%.0f', fence))
return { fence, forced }
