--[[
  Acquires a document lock (SET NX PX) and issues its fencing token.

  KEYS[1]  lock key            (string: the holder's token)
  KEYS[2]  fencing counter key (string: last fencing token issued for this lock, INCR)

  ARGV[1]  token: "<acquiredAtMs>.<random>" (unique per acquisition; the time lets any
           contender see how long the lock has been held)
  ARGV[2]  ttl in milliseconds
  ARGV[3]  maximum hold in milliseconds: a lock held longer is force-released here

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
return { redis.call('INCR', KEYS[2]), forced }
