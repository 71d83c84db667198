-- Removes analysis results that are still past their expiry; ids saved again meanwhile (a later expiry) stay.
--
-- KEYS[1]           index   sorted set  analysis id -> expiry epoch ms
-- KEYS[2..n+1]      result  string      the result of ARGV[i] (KEYS[i+1] belongs to ARGV[i])
-- ARGV[1]           now, epoch ms
-- ARGV[2..n+1]      analysis ids read from the index by ZRANGEBYSCORE -inf now
-- Returns the number of ids removed from the index.

local now = tonumber(ARGV[1])
local removed = 0
for i = 2, #ARGV do
  local expiry = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if expiry and tonumber(expiry) <= now then
    redis.call('DEL', KEYS[i])
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
