-- Shared helpers, prepended to the scripts that declare `-- uses: _common.lua` (Redis 6.2 has no function
-- libraries, so scripts.py concatenates this file in front of them at load time).
--
-- A task record (hash) keeps the names of its own secondary keys, written once at creation by keys.py:
--   sidx : "\n"-joined prefixes of the sorted-set indexes holding it; its status is appended to each
--   evk  : the task's event stream
--
-- Stream entries are compact: s status, c current, t total, k kind, then optionally m message and e error (only
-- when they changed: readers carry the last ones forward), p step, i task id (only in the all-tasks stream). The
-- entry id's milliseconds are the event's time.

-- The transition table, the only copy (progress/status.py reads it from this file): each status -> the statuses a
-- change may move it to, space-delimited; a status that may move nowhere is final. Strings, not nested tables:
-- scripts rebuild their locals on every call, and this is on the hot path.
local MAY_BECOME = {
  created   = ' created running paused completed error cancelled ',
  running   = ' running paused completed error cancelled ',
  paused    = ' running paused completed error cancelled ',
  completed = '',
  error     = '',
  cancelled = '',
}

local function is_final(status)
  return MAY_BECOME[status] == ''
end

-- Whether `old -> new` is in the table. A damaged record's unknown status moves like a running one, so that an
-- operator can still end it.
local function may_become(old, new)
  local row = MAY_BECOME[old] or MAY_BECOME.running
  return MAY_BECOME[new] ~= nil and string.find(row, ' ' .. new .. ' ', 1, true) ~= nil
end

-- Upper bounds (seconds) of the task duration histogram's buckets; readers take them from the stored fields.
local DURATION_BUCKETS = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600}

local function split_lines(s)
  local out = {}
  if s == nil or s == false or s == '' then return out end
  for part in string.gmatch(s, '[^\n]+') do out[#out + 1] = part end
  return out
end

-- Field/value list of a stream entry for an event table.
local function entry_fields(ev, with_id)
  local f = {'s', ev.status, 'c', ev.current, 't', ev.total, 'k', ev.kind}
  if ev.message then f[#f + 1] = 'm'; f[#f + 1] = ev.message end
  if ev.error_message then f[#f + 1] = 'e'; f[#f + 1] = ev.error_message end
  if ev.step then f[#f + 1] = 'p'; f[#f + 1] = ev.step end
  if with_id then f[#f + 1] = 'i'; f[#f + 1] = ev.task_id end
  return f
end

-- Removes one record and every trace of it (indexes, count, event stream, heartbeat entry) when it ended at or
-- before `cutoff` (or always, with cutoff < 0). Returns 1 if deleted, 0 if gone already or not old enough.
local function delete_record(record_key, task_id, counts_key, heartbeats_key, cutoff, unreadable_key)
  local f = redis.call('HMGET', record_key, 'status', 'sidx', 'evk', 'ended')
  if not f[1] then
    redis.call('ZREM', heartbeats_key, task_id)
    return 0
  end
  if cutoff >= 0 and (not f[4] or tonumber(f[4]) > cutoff) then return 0 end
  for _, p in ipairs(split_lines(f[2])) do redis.call('ZREM', p .. f[1], task_id) end
  if f[3] then redis.call('DEL', f[3]) end
  redis.call('ZREM', heartbeats_key, task_id)
  if unreadable_key then redis.call('SREM', unreadable_key, task_id) end
  redis.call('HINCRBY', counts_key, f[1], -1)
  redis.call('DEL', record_key)
  return 1
end
