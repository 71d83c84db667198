-- Sets one field of an existing task record (links between records, e.g. the retry that replaced a task); a record
-- that is gone stays gone (a plain HSET would leave a stub behind that readers take for a damaged record).
--
-- KEYS[1] record  hash
-- ARGV[1] field
-- ARGV[2] value
-- Returns 1 when set, 0 when the record does not exist.

if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
