--[[
  Releases a document lock only if the caller still holds it (token compare).

  KEYS[1]  lock key
  ARGV[1]  the holder's token

  Returns  1 when released, 0 when the lock was not held with this token (expired or taken over)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
