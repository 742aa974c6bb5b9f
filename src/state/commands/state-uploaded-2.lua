--[[
  Records that a document version reached the durable store.

  KEYS[1]  document hash
  KEYS[2]  pending uploads (sorted set)

  ARGV[1]  document key
  ARGV[2]  version that was uploaded
  ARGV[3]  now in ms

  Returns  1 the stored copy is current: no longer pending
           0 the document moved on meanwhile (an older upload may have landed last): it stays
             (or becomes again) pending, so the background job uploads the current version
]]
if redis.call('HGET', KEYS[1], 'version') == ARGV[2] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 0
