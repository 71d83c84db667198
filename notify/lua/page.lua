-- The ids of one page of a user's notifications, newest first, skipping expired ones (the client reads their
-- hashes next: their names are not known before this runs, and a script may touch only declared keys).
--
-- KEYS[1]  ids     zset  the user's all or unread set (notification id -> creation ms)
-- KEYS[2]  cursor  hash  (only with a cursor) the notification ARGV[2] names
-- ARGV[1]  oldest creation ms still kept (now - TTL)
-- ARGV[2]  cursor: return those after this notification id in the listing ('' for the first page)
-- ARGV[3]  page size
-- Returns the ids, newest first.

local min, before, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
if before == '' then
  return redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', min, 'LIMIT', 0, limit)
end
local rank = redis.call('ZREVRANK', KEYS[1], before)
if rank then
  -- By rank, so notifications created in the same millisecond are neither skipped nor repeated.
  local ids = {}
  local page = redis.call('ZREVRANGE', KEYS[1], rank + 1, rank + limit, 'WITHSCORES')
  for i = 1, #page, 2 do
    if tonumber(page[i + 1]) >= tonumber(min) then ids[#ids + 1] = page[i] end
  end
  return ids
end
-- The cursor left this set (read meanwhile): continue from its creation time.
local created = redis.call('HGET', KEYS[2], 'created')
if not created then return {} end
return redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. created, min, 'LIMIT', 0, limit)
