--[[
  Loads a document from the durable store (sync from cloud) when it is newer than Redis's copy.

  KEYS[1]  document hash
  KEYS[2]  fencing counter of the document's lock
  KEYS[3]  index of live keys

  ARGV[1]  document key
  ARGV[2]  version (from the store)
  ARGV[3]  value as JSON ("" for a tombstone)
  ARGV[4]  updatedAt
  ARGV[5]  updatedBy
  ARGV[6]  fencing token of the write that produced it
  ARGV[7]  "1" for a tombstone (deleted document)

  Returns  1 loaded; 0 Redis already had this version or a newer one
]]
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local version = tonumber(ARGV[2])
if version <= current then
  return 0
end
local fence = tonumber(ARGV[6])
redis.call('HSET', KEYS[1], 'value', ARGV[3], 'version', version, 'updatedAt', ARGV[4],
  'updatedBy', ARGV[5], 'fence', fence, 'deleted', ARGV[7])
-- After a Redis loss the counter restarts: never issue a token below one already accepted.
if tonumber(redis.call('GET', KEYS[2]) or '0') < fence then
  redis.call('SET', KEYS[2], fence)
end
if ARGV[7] == '1' then
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
end
return 1
