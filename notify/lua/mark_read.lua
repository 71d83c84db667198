-- Marks notifications of one user as read; ids of other users (or unknown ids) are ignored.
--
-- KEYS[1]  user's unread  zset  notification id -> creation ms
-- KEYS[2..n+1] the hash of each id in ARGV[3..n+2], in that order (the user's: one hash tag, one slot)
-- ARGV[1]  user id
-- ARGV[2]  now (ms since the epoch)
-- ARGV[3..n+2] notification ids
-- Returns the number of notifications that changed from unread to read.

local user, now = ARGV[1], ARGV[2]
local changed = 0
for i = 3, #ARGV do
  local id, h = ARGV[i], KEYS[i - 1]
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
