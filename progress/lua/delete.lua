-- Deletes task records and every trace of them (retention cleanup, explicit delete).
-- uses: _common.lua
--
-- KEYS[1] counts      hash  status -> number of records
-- KEYS[2] ended       zset  terminal task ids by end ms
-- KEYS[3] heartbeats  zset  started, unfinished task ids by last write ms
-- ARGV    pairs of (record key, task id)
-- Returns the number of records deleted.

local n = 0
for i = 1, #ARGV, 2 do
  n = n + delete_record(ARGV[i], ARGV[i + 1], KEYS[1], KEYS[2], KEYS[3])
end
return n
