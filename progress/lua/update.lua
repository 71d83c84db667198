-- Applies one change to a task: status transition, counters, message, merged details/results, a step, in one
-- round trip; keeps indexes and per-status counts exact; appends the event and publishes it.
-- Terminal states are final: any change to a completed/error/cancelled task is ignored and counted.
-- uses: _common.lua
--
-- KEYS[1] record        hash
-- KEYS[2] task events   stream  this task's events
-- KEYS[3] counts        hash    status -> number of records
-- KEYS[4] all events    stream  every task's status changes and steps (capped)
-- KEYS[5] stats         hash    store-wide counters
-- KEYS[6] heartbeats    zset    started, unfinished task ids by last write ms
-- KEYS[7] durations     hash    task type -> recent creation-to-completion ms, ","-joined (create.lua's estimate)
-- KEYS[8] duration hist hash    "type|status|le" -> ended tasks whose run took at most le s (one bucket each, not
--                               cumulative), "type|status|sum" -> their total seconds (Prometheus histograms)
-- KEYS[9..] index keys for a status move, when the client knows them: prefix .. old and prefix .. new for each
--           prefix of the record's `sidx`. A move without all of them writes nothing and returns 'keys'.
-- ARGV[1] now (ms since the epoch)
-- ARGV[2] max length of a task's event stream
-- ARGV[3] max length of the all-events stream
-- ARGV[4] Pub/Sub channel of this task
-- ARGV[5] ms an ended task's event stream is kept for late watchers
-- ARGV[6] PUBLISH or SPUBLISH (a shard channel, on a cluster whose servers have them)
-- ARGV[7..] the change as name, value pairs, every one optional (flat, so the hot path decodes no JSON):
--           status, current, incr (added to current: children finishing a batch), total, message,
--           error_message, last_error, worker, start ('1': a worker begins an attempt), soft ('1': a worker's
--           progress; leaves "paused" alone), attempt (the attempt that writes: refused once a newer one started;
--           absent for writes from outside a worker); as JSON text: details {key: JSON text}, results {key: JSON
--           text}, step {name, action = define|start|complete|fail|timeout, message, error, timeout_ms,
--           estimated_ms, steps = [{name, timeout_ms, estimated_ms}] for define}
-- Returns {code, status, event id or '', event JSON or '', newest attempt}; code is ok | ignored | invalid |
-- missing | superseded | keys. 'keys' (nothing written): the change moves the task from `status` to another
-- status and the index keys were not all given; the fourth element is the record's `sidx` then.
--
-- Fencing: `start` increments the record's attempt and remembers the progress reached so far (`floor`). A write
-- carrying an older attempt is refused before anything is written (the older attempt stops at its next write), and
-- a write from an attempt never lowers `current` below the floor, so watchers never see progress go backwards
-- across attempts. The event carries the message and error only when they changed: readers keep the last ones.
--
-- Attempts: the record's `att` field is a JSON list (the newest 50) of {n attempt, w worker, s start ms, e end ms, o
-- outcome, x error} (short names: every record carries it), written only when an attempt starts, is retried or the
-- task ends: never on routine progress.

local now = tonumber(ARGV[1])
local NUMERIC = {current = true, total = true, incr = true, attempt = true}
local JSON = {details = true, results = true, step = true}
local change = {}
for i = 7, #ARGV, 2 do
  local name, value = ARGV[i], ARGV[i + 1]
  if NUMERIC[name] then value = tonumber(value) elseif JSON[name] then value = cjson.decode(value) end
  change[name] = value
end
-- Everything the change needs is read at once: one HMGET, then one HSET (the hot path makes 7 calls in all, the
-- store-wide count of written updates included).
local cur = redis.call('HMGET', KEYS[1], 'status', 'created', 'sidx', 'started', 'id', 'cur', 'total',
  'msg', 'error', 'hb', 'attempt', 'floor')
local old = cur[1]
if not old then return {'missing', '', '', '', 0} end
local id = cur[5]
local attempt = tonumber(cur[11]) or 0

if change.attempt ~= nil and change.attempt < attempt then
  redis.call('HINCRBY', KEYS[5], 'superseded_writes', 1)
  return {'superseded', old, '', '', attempt}
end

if is_final(old) then
  redis.call('HINCRBY', KEYS[1], 'ignored', 1)
  redis.call('HINCRBY', KEYS[5], 'ignored_updates', 1)
  local updated = redis.call('HGET', KEYS[1], 'updated')
  return {'ignored', old, '', cjson.encode({current = tonumber(cur[6]), total = tonumber(cur[7]),
    timestamp = tonumber(updated)}), attempt}
end

local new = change.status
if new == nil or new == cjson.null or new == '' then new = old end
if not may_become(old, new) then return {'invalid', old, '', '', attempt} end
-- A worker's routine progress call must not undo an operator's pause; its numbers are still recorded.
if change.soft and old == 'paused' and new == 'running' then new = 'paused' end
-- A move needs the index keys of both statuses, passed by the client (checked before anything is written).
if new ~= old and not has_index_keys(key_set(KEYS, 9, #KEYS), cur[3], {old, new}) then
  return {'keys', old, '', cur[3] or '', attempt}
end

local current = tonumber(cur[6]) or 0
local total = tonumber(cur[7]) or 0
local message = cur[8] or ''
local err = cur[9]
local sets = {'status', new, 'updated', now}
local function put(field, value) sets[#sets + 1] = field; sets[#sets + 1] = value end
if change.current ~= nil then
  current = change.current
  -- A retried attempt counts from zero again; what watchers see stays at the previous attempts' high mark.
  if change.attempt ~= nil and current < (tonumber(cur[12]) or 0) then current = tonumber(cur[12]) end
end
if change.incr ~= nil then current = current + change.incr end
if change.current ~= nil or change.incr ~= nil then put('cur', current) end
if change.total ~= nil then total = change.total; put('total', total) end
local message_changed = change.message ~= nil and change.message ~= message
if change.message ~= nil then message = change.message; put('msg', message) end
local error_changed = change.error_message ~= nil and change.error_message ~= err
if change.error_message ~= nil then err = change.error_message; put('error', err) end
if change.last_error ~= nil then put('last_error', change.last_error) end
if change.worker ~= nil then put('worker', change.worker) end
if (new == 'running' or change.start) and not cur[4] then put('started', now) end

-- details and results are merged key by key: each top-level key is its own hash field ('d:' / 'r:' prefix) whose
-- value is JSON encoded by the client, so Lua never re-encodes user data (cjson cannot tell [] from {}).
local function merge(prefix, patch)
  if patch == nil then return end
  for k, v in pairs(patch) do put(prefix .. k, v) end
end
merge('d:', change.details)
merge('r:', change.results)

local step = change.step
if step ~= nil then
  local raw = redis.call('HGET', KEYS[1], 'steps')
  local steps = (raw and raw ~= '{}') and cjson.decode(raw) or {}
  if step.action == 'define' then
    steps = {}
    for i, s in ipairs(step.steps) do
      steps[i] = {step = i, name = s.name, status = 'pending', timeout_ms = s.timeout_ms,
        estimated_ms = s.estimated_ms, elapsed_ms = 0, message = '', error = ''}
    end
  else
    local found = nil
    for _, s in ipairs(steps) do if s.name == step.name then found = s end end
    if found == nil then
      found = {step = #steps + 1, name = step.name, status = 'pending', elapsed_ms = 0, message = '', error = ''}
      steps[#steps + 1] = found
    end
    if step.timeout_ms ~= nil then found.timeout_ms = step.timeout_ms end
    if step.message ~= nil then found.message = step.message end
    if step.action == 'start' then
      found.status = 'running'; found.started_at = now
    elseif step.action == 'timeout' and found.status == 'running' then
      found.status = 'timeout'  -- the sweep's flag: past its timeout_ms, the step may yet end
      if step.error ~= nil then found.error = step.error end
    elseif step.action == 'complete' or step.action == 'fail' then
      found.status = (step.action == 'complete') and 'success' or 'error'
      found.completed_at = now
      if step.error ~= nil then found.error = step.error end
      if found.started_at then found.elapsed_ms = now - found.started_at end
      -- A step that ran past its timeout ends `timeout`, not `success`, whether or not the sweep saw it running.
      local limit = found.timeout_ms
      if step.action == 'complete' and type(limit) == 'number' and found.elapsed_ms > limit then
        found.status = 'timeout'
      end
    end
  end
  put('steps', cjson.encode(steps))
end

if change.start then
  attempt = redis.call('HINCRBY', KEYS[1], 'attempt', 1)
  put('floor', current)
end

-- The attempt history: a start opens an attempt (closing one left open as 'lost': its worker died or hung and the message
-- was redelivered), a retry or the end closes it with its outcome.
local closes = is_final(new) or change.last_error ~= nil
if change.start or closes then
  local raw = redis.call('HGET', KEYS[1], 'att')
  local atts = raw and cjson.decode(raw) or {}
  local open = atts[#atts]
  if open ~= nil and open.e ~= nil then open = nil end
  if change.start then
    if open ~= nil then open.e = now; open.o = 'lost' end
    atts[#atts + 1] = {n = attempt, w = change.worker or '', s = now}
    while #atts > 50 do table.remove(atts, 1) end
  elseif open ~= nil then
    open.e = now
    open.o = is_final(new) and new or 'retry'
    local why = change.last_error or change.error_message
    if why ~= nil then open.x = string.sub(why, 1, 500) end
  end
  if #atts > 0 then put('att', cjson.encode(atts)) end
end

if is_final(new) then
  put('ended', now)
  redis.call('ZREM', KEYS[6], id)
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  local ttype = redis.call('HGET', KEYS[1], 'type')
  if cur[4] then
    -- The run time (start to end) into the type's histogram: one bucket per task, summed up by the reader.
    local secs = (now - tonumber(cur[4])) / 1000
    local le = '+Inf'
    for _, b in ipairs(DURATION_BUCKETS) do if secs <= b then le = tostring(b); break end end
    redis.call('HINCRBY', KEYS[8], ttype .. '|' .. new .. '|' .. le, 1)
    redis.call('HINCRBYFLOAT', KEYS[8], ttype .. '|' .. new .. '|sum', secs)
  end
  if new == 'completed' then
    -- The type's duration sample: its last 20 creation-to-completion times (only on completion: no hot path).
    local sample = redis.call('HGET', KEYS[7], ttype)
    local kept = {}
    if sample then for d in string.gmatch(sample, '[^,]+') do kept[#kept + 1] = d end end
    kept[#kept + 1] = string.format('%d', math.max(0, math.floor(now - tonumber(cur[2]))))
    while #kept > 20 do table.remove(kept, 1) end
    redis.call('HSET', KEYS[7], ttype, table.concat(kept, ','))
  end
elseif (new == 'running' or new == 'paused') and (new ~= old or now - (tonumber(cur[10]) or 0) >= 1000) then
  -- The heartbeat needs second resolution (the stale sweep's bound is minutes): refreshed at most once a second.
  redis.call('ZADD', KEYS[6], now, id)
  put('hb', now)
end

if new ~= old then
  for _, p in ipairs(split_lines(cur[3])) do
    redis.call('ZREM', p .. old, id)  -- both given in KEYS (checked above)
    redis.call('ZADD', p .. new, cur[2], id)
  end
  redis.call('HINCRBY', KEYS[3], old, -1)
  redis.call('HINCRBY', KEYS[3], new, 1)
end

local payload = {task_id = id, status = new, timestamp = now, kind = (new ~= old) and 'status' or 'progress',
  current = current, total = total}
if message_changed then payload.message = message end
if error_changed then payload.error_message = err end
if step ~= nil and step.name ~= nil then payload.step = step.name end
local body = cjson.encode(payload)
local ev = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(entry_fields(payload, false)))
-- The all-tasks stream (dashboards resuming after a disconnect) keeps status changes and steps; routine progress
-- reaches live dashboards through Pub/Sub and each task's own stream, which keeps the hot path at 7 calls.
if payload.kind == 'status' or step ~= nil then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', unpack(entry_fields(payload, true)))
end
put('ev', ev)
redis.call('HINCRBY', KEYS[5], 'written_updates', 1)
redis.call('HSET', KEYS[1], unpack(sets))
redis.call(ARGV[6], ARGV[4], ev .. ' ' .. body)
return {'ok', new, ev, body, attempt}
