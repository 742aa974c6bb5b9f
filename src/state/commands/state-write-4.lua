--[[
  Writes (or deletes) a document, refusing stale fencing tokens and moved versions.

  KEYS[1]  document hash: value, version, updatedAt, updatedBy, fence, deleted
  KEYS[2]  fencing counter of the document's lock (last token issued)
  KEYS[3]  index of live keys (sorted set, score 0, for listing by prefix)
  KEYS[4]  pending uploads (sorted set: key -> ms since epoch when it became pending)

  ARGV[1]  document key (member of the index and pending sets)
  ARGV[2]  expected version: "" for any; "0" means "must not exist" (absent or deleted)
  ARGV[3]  fencing token the writer got with its lock
  ARGV[4]  value as JSON ("" when deleting)
  ARGV[5]  updatedAt (ISO 8601)
  ARGV[6]  updatedBy
  ARGV[7]  "1" to delete (leaves a tombstone so versions stay monotonic)
  ARGV[8]  now in ms (score in the pending set)

  Returns  { "ok", newVersion }
           { "fence", newerFence }      the token is older than one issued or accepted since
           { "version", currentVersion } the document is not at the expected version
           { "missing", currentVersion } delete of a document that does not exist
]]
local fence = tonumber(ARGV[3])
local issued = tonumber(redis.call('GET', KEYS[2]) or '0')
if fence < issued then
  return { 'fence', issued }
end
local doc = redis.call('HMGET', KEYS[1], 'version', 'fence', 'deleted')
local version = tonumber(doc[1] or '0')
local accepted = tonumber(doc[2] or '0')
if fence < accepted then
  return { 'fence', accepted }
end
local live = version > 0 and doc[3] ~= '1'
local visible = live and version or 0
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= visible then
  return { 'version', visible }
end
local deleting = ARGV[7] == '1'
if deleting and not live then
  return { 'missing', visible }
end
local newVersion = version + 1
redis.call('HSET', KEYS[1], 'value', ARGV[4], 'version', newVersion, 'updatedAt', ARGV[5],
  'updatedBy', ARGV[6], 'fence', fence, 'deleted', deleting and '1' or '0')
if deleting then
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[3], 0, ARGV[1])
end
redis.call('ZADD', KEYS[4], ARGV[8], ARGV[1])
return { 'ok', newVersion }
