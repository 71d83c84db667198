-- Shared helpers, prepended to the scripts that declare `-- uses: _common.lua` (Redis 6.2 has no function
-- libraries, so scripts.py concatenates this file in front of them at load time).
--
-- A task record (hash) keeps the names of its own secondary keys, written once at creation by keys.py:
--   idx  : "\n"-joined sorted sets that hold the task whatever its status
--   sidx : "\n"-joined prefixes of the status-bearing sorted sets; the status is appended to each
--   evk  : the task's event stream

local TERMINAL = {completed = true, error = true, cancelled = true}
local KNOWN = {created = true, running = true, paused = true, completed = true, error = true, cancelled = true}

local function split_lines(s)
  local out = {}
  if s == nil or s == false or s == '' then return out end
  for part in string.gmatch(s, '[^\n]+') do out[#out + 1] = part end
  return out
end

-- Removes one record and every trace of it (indexes, count, event stream, retention and heartbeat entries).
-- Returns 1 if a record was deleted, 0 if it was already gone.
local function delete_record(record_key, task_id, counts_key, ended_key, heartbeats_key)
  local f = redis.call('HMGET', record_key, 'status', 'idx', 'sidx', 'evk')
  redis.call('ZREM', ended_key, task_id)
  redis.call('ZREM', heartbeats_key, task_id)
  if not f[1] then return 0 end
  for _, k in ipairs(split_lines(f[2])) do redis.call('ZREM', k, task_id) end
  for _, p in ipairs(split_lines(f[3])) do redis.call('ZREM', p .. f[1], task_id) end
  if f[4] then redis.call('DEL', f[4]) end
  redis.call('HINCRBY', counts_key, f[1], -1)
  redis.call('DEL', record_key)
  return 1
end
