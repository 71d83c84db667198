-- Reads one page of a user's notifications, newest first, skipping expired ones.
--
-- KEYS[1]  ids  zset  the user's all or unread set (notification id -> creation ms)
-- ARGV[1]  oldest creation ms still kept (now - TTL)
-- ARGV[2]  cursor: return those after this notification id in the listing ('' for the first page)
-- ARGV[3]  page size
-- ARGV[4]  notification hash prefix (prefix .. id names a notification hash; built by AppKeys)
-- Returns a list of flat hashes (field, value, ...), newest first.

local min, before, limit, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local ids = {}
if before == '' then
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', min, 'LIMIT', 0, limit)
else
  local rank = redis.call('ZREVRANK', KEYS[1], before)
  if rank then
    -- By rank, so notifications created in the same millisecond are neither skipped nor repeated.
    local page = redis.call('ZREVRANGE', KEYS[1], rank + 1, rank + limit, 'WITHSCORES')
    for i = 1, #page, 2 do
      if tonumber(page[i + 1]) >= tonumber(min) then ids[#ids + 1] = page[i] end
    end
  else
    -- The cursor left this set (read meanwhile): continue from its creation time.
    local created = redis.call('HGET', prefix .. before, 'created')
    if not created then return {} end
    ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. created, min, 'LIMIT', 0, limit)
  end
end

local out = {}
for _, id in ipairs(ids) do
  local h = redis.call('HGETALL', prefix .. id)
  if #h > 0 then out[#out + 1] = h end
end
return out
