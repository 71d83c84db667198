-- Stores one analysis result until its expiry, indexes it for cleanup, and announces it to its user.
--
-- KEYS[1] result   string      the result JSON, expiring at ARGV[3] (PXAT)
-- KEYS[2] index    sorted set  analysis id -> expiry epoch ms
-- ARGV[1] analysis id
-- ARGV[2] result JSON
-- ARGV[3] expiry, epoch ms
-- ARGV[4] Pub/Sub channel to announce on ('' for none)
-- ARGV[5] announcement JSON
-- Returns the number of subscribers that received the announcement (0 when none was sent).

redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then
  return redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return 0
