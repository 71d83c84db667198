-- Deletes task records of one bucket and every trace of them (retention cleanup, explicit delete).
-- uses: _common.lua
--
-- KEYS[1] counts      hash  status -> number of records
-- KEYS[2] heartbeats  zset  started, unfinished task ids by last write ms
-- KEYS[3] unreadable  set   ids of records a reader could not parse
-- KEYS[4..] then per record: its record key, its event stream, and the n index keys ARGV gives the count of
--           (prefix .. status for each prefix of its `sidx`, see _common.lua)
-- ARGV[1] cutoff: only records that ended at or before this ms are deleted (-1: delete whatever the state)
-- ARGV[2..] then pairs of (task id, n)
-- Returns {number deleted, ids whose index keys were not all given (nothing of them deleted)...}.

local cutoff = tonumber(ARGV[1])
local n = 0
local need = {}
local k = 4
for i = 2, #ARGV, 2 do
  local count = tonumber(ARGV[i + 1])
  local given = key_set(KEYS, k + 2, k + 1 + count)
  local done = delete_record(KEYS[k], KEYS[k + 1], given, ARGV[i], KEYS[1], KEYS[2], cutoff, KEYS[3])
  if done == -1 then need[#need + 1] = ARGV[i] else n = n + done end
  k = k + 2 + count
end
return {n, unpack(need)}
