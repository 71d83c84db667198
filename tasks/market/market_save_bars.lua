-- Stores one symbol's daily bars, writing only the days whose JSON changed, and refreshes the hash's TTL.
-- Re-fetching the same history therefore writes nothing and reports every bar as unchanged.
--
-- KEYS[1] bars      hash    date (YYYY-MM-DD) -> bar JSON
-- ARGV[1] TTL of the hash in seconds
-- ARGV[2], ARGV[3], ...  pairs of date, bar JSON
-- Returns the number of bars written (new or changed).

local saved = 0
for i = 2, #ARGV, 2 do
  local date, bar = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', KEYS[1], date) ~= bar then
    redis.call('HSET', KEYS[1], date, bar)
    saved = saved + 1
  end
end
if #ARGV > 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return saved
