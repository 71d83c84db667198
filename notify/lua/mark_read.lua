-- Marks notifications of one user as read; ids of other users (or unknown ids) are ignored.
--
-- KEYS[1]  user's unread  zset  notification id -> creation ms
-- ARGV[1]  user id
-- ARGV[2]  now (ms since the epoch)
-- ARGV[3]  notification hash prefix (prefix .. id names a notification hash; built by AppKeys)
-- ARGV[4]  'all' (every unread one of the user) or 'ids' (those in ARGV[5..])
-- ARGV[5..] notification ids
-- Returns the number of notifications that changed from unread to read.

local user, now, prefix = ARGV[1], ARGV[2], ARGV[3]
local ids = {}
if ARGV[4] == 'all' then
  ids = redis.call('ZRANGE', KEYS[1], 0, -1)
else
  for i = 5, #ARGV do ids[#ids + 1] = ARGV[i] end
end

local changed = 0
for _, id in ipairs(ids) do
  local h = prefix .. id
  local fields = redis.call('HMGET', h, 'user', 'read')
  if fields[1] == user then
    if fields[2] == '0' then
      redis.call('HSET', h, 'read', '1', 'read_at', now)
      changed = changed + 1
    end
    redis.call('ZREM', KEYS[1], id)
  elseif not fields[1] then
    -- Expired or capped away: only this user's own set is touched.
    redis.call('ZREM', KEYS[1], id)
  end
end
return changed
