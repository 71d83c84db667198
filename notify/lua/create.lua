-- Stores a notification, files it as unread, trims the user's sets to the cap and the TTL, and publishes it.
-- Every key is the user's (one hash tag: one cluster slot).
--
-- KEYS[1]  notification   hash    the new notification's fields
-- KEYS[2]  user's all     zset    notification id -> creation ms
-- KEYS[3]  user's unread  zset    notification id -> creation ms
-- KEYS[4]  dedup          string  (only with an idempotency key) id of the notification sent for that key
-- ARGV[1]  now (ms since the epoch)
-- ARGV[2]  notification id
-- ARGV[3]  user id
-- ARGV[4]  type
-- ARGV[5]  title
-- ARGV[6]  message
-- ARGV[7]  data (JSON object)
-- ARGV[8]  TTL in seconds
-- ARGV[9]  most notifications kept per user
-- ARGV[10] oldest creation ms still kept (now - TTL)
-- ARGV[11] the user's Pub/Sub channel
-- ARGV[12] the notification's JSON (the published message)
-- ARGV[13] idempotency key ('' for none)
-- Returns {1, receivers, ids capped away...} when stored and published (the client deletes the capped ones'
-- hashes: their names are not declared here), {0, existing id} when the idempotency key was already used: nothing
-- is stored or sent then.

if KEYS[4] then
  local existing = redis.call('GET', KEYS[4])
  if existing then return {0, existing} end
end

local now, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[8])
redis.call('HSET', KEYS[1], 'id', id, 'user', ARGV[3], 'type', ARGV[4], 'title', ARGV[5], 'msg', ARGV[6],
  'data', ARGV[7], 'read', '0', 'created', now, 'ikey', ARGV[13])
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now, id)
redis.call('ZADD', KEYS[3], now, id)

-- Expired hashes vanish by their TTL; their ids leave the sets here.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[10])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[10])
local capped = {}
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[9])
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
    redis.call('ZREM', KEYS[2], old)
    redis.call('ZREM', KEYS[3], old)
    capped[#capped + 1] = old
  end
end
-- A user who gets nothing for a whole TTL leaves no sets behind.
redis.call('EXPIRE', KEYS[2], ttl)
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ttl) end

if KEYS[4] then redis.call('SET', KEYS[4], id, 'EX', ttl) end
return {1, redis.call('PUBLISH', ARGV[11], ARGV[12]), unpack(capped)}
