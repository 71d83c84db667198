-- Sets a symbol's latest price unless a newer day is already stored, and announces a change on its channel.
-- An older history fetched later (an explicit end date) must not roll the latest price back.
--
-- KEYS[1] last prices  hash    symbol -> JSON {price, date, ...}
-- ARGV[1] symbol
-- ARGV[2] entry JSON (stored)
-- ARGV[3] date of the price (YYYY-MM-DD)
-- ARGV[4] the price
-- ARGV[5] Pub/Sub channel of the symbol's prices
-- ARGV[6] message JSON published on a change
-- Returns 1 if the stored price changed (and was published), else 0.

local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local old = cjson.decode(raw)
  if old.date > ARGV[3] then return 0 end
  if old.date == ARGV[3] and tonumber(old.price) == tonumber(ARGV[4]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
