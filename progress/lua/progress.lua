-- The routine write: a task's progress (current, total, message, details) while it runs or is paused, with no
-- status change, step, start, end or error. update.lua does the same for these fields; this script is its small
-- twin for the hot path (no transition table, no JSON decoding, 4 keys), and hands anything else to it.
--
-- KEYS[1] record      hash
-- KEYS[2] task events stream  this task's events
-- KEYS[3] stats       hash    store-wide counters
-- KEYS[4] heartbeats  zset    started, unfinished task ids by last write ms
-- ARGV[1] now (ms since the epoch)
-- ARGV[2] task id
-- ARGV[3] Pub/Sub channel of this task
-- ARGV[4] max length of a task's event stream
-- ARGV[5] PUBLISH or SPUBLISH (a shard channel, on a cluster whose servers have them)
-- ARGV[6] the attempt that writes ('' for a write from outside a worker): refused once a newer one started
-- ARGV[7] current ('' when not given)
-- ARGV[8] total ('' when not given)
-- ARGV[9..] record fields to set, as field, value pairs: 'msg' first when a message is given, then 'd:<key>' per
--           top-level key of the details (its value as JSON, merged key by key as update.lua does)
-- Returns update.lua's reply, {code, status, event id or '', event JSON or '', newest attempt}, with code ok |
-- missing | superseded | full; 'ok' adds current, total and now (what the client would otherwise parse the JSON for). 'full' (nothing written): the task is neither running nor paused (created, ended,
-- or a damaged status), so the change is update.lua's to judge (an ended task stays ended: it refuses the change).
--
-- The task's status is left as it is: a worker's progress never undoes an operator's pause, and a paused task is
-- reported back as paused (the worker then waits). Fencing as in update.lua: a write from an older attempt is
-- refused before anything is written, and an attempt's `current` never goes below the progress reached before it.

local cur = redis.call('HMGET', KEYS[1], 'status', 'cur', 'total', 'msg', 'hb', 'attempt', 'floor', 'started')
local status = cur[1]
if not status then return {'missing', '', '', '', 0} end
local attempt = tonumber(cur[6]) or 0
local writer = ARGV[6]
if writer ~= '' and tonumber(writer) < attempt then
  redis.call('HINCRBY', KEYS[3], 'superseded_writes', 1)
  return {'superseded', status, '', '', attempt}
end
if status ~= 'running' and status ~= 'paused' then return {'full', status, '', '', attempt} end

local now = ARGV[1]
local id = ARGV[2]
local sets = {'updated', now}
local current = tonumber(cur[2]) or 0
if ARGV[7] ~= '' then
  current = tonumber(ARGV[7])
  -- A retried attempt counts from zero again; what watchers see stays at the previous attempts' high mark.
  local floor = tonumber(cur[7]) or 0
  if writer ~= '' and current < floor then current = floor end
  sets[#sets + 1] = 'cur'; sets[#sets + 1] = current
end
local total = tonumber(cur[3]) or 0
if ARGV[8] ~= '' then
  total = tonumber(ARGV[8])
  sets[#sets + 1] = 'total'; sets[#sets + 1] = total
end
local message = nil
for i = 9, #ARGV, 2 do
  sets[#sets + 1] = ARGV[i]; sets[#sets + 1] = ARGV[i + 1]
end
if ARGV[9] == 'msg' and ARGV[10] ~= (cur[4] or '') then message = ARGV[10] end
if status == 'running' and not cur[8] then sets[#sets + 1] = 'started'; sets[#sets + 1] = now end
-- The heartbeat needs second resolution (the stale sweep's bound is minutes): refreshed at most once a second.
if tonumber(now) - (tonumber(cur[5]) or 0) >= 1000 then
  redis.call('ZADD', KEYS[4], now, id)
  sets[#sets + 1] = 'hb'; sets[#sets + 1] = now
end

-- The stream entry as _common.lua's entry_fields writes it (s c t k, then m when the message changed).
local ev
-- The event JSON as update.lua's cjson.encode writes it, built as text: the id is [A-Za-z0-9_.:-] and the status
-- a word, so only the message needs JSON escaping.
local body = '{"task_id":"' .. id .. '","status":"' .. status .. '","timestamp":' .. now .. ',"kind":"progress"'
  .. ',"current":' .. current .. ',"total":' .. total
if message then
  body = body .. ',"message":' .. cjson.encode(message) .. '}'
  ev = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 's', status, 'c', current, 't', total,
    'k', 'progress', 'm', message)
else
  body = body .. '}'
  ev = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 's', status, 'c', current, 't', total,
    'k', 'progress')
end
sets[#sets + 1] = 'ev'; sets[#sets + 1] = ev
redis.call('HINCRBY', KEYS[3], 'written_updates', 1)
redis.call('HSET', KEYS[1], unpack(sets))
redis.call(ARGV[5], ARGV[3], ev .. ' ' .. body)
return {'ok', status, ev, body, attempt, current, total, now}
