-- Deletes task records and every trace of them (retention cleanup, explicit delete).
-- uses: _common.lua
--
-- KEYS[1] counts      hash  status -> number of records
-- KEYS[2] heartbeats  zset  started, unfinished task ids by last write ms
-- KEYS[3] unreadable  set   ids of records a reader could not parse
-- ARGV[1] cutoff: only records that ended at or before this ms are deleted (-1: delete whatever the state)
-- ARGV[2..] then pairs of (record key, task id)
-- Returns the number of records deleted.

local cutoff = tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV, 2 do
  n = n + delete_record(ARGV[i], ARGV[i + 1], KEYS[1], KEYS[2], cutoff, KEYS[3])
end
return n
