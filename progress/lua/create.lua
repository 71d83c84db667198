-- Creates a task record in status "created", indexes it, counts it, and announces it.
-- uses: _common.lua
--
-- KEYS[1]  record        hash
-- KEYS[2]  counts        hash    status -> number of records
-- KEYS[3]  task events   stream  this task's events
-- KEYS[4]  all events    stream  every task's status changes (capped)
-- KEYS[5]  creation tie  string  "<ms> <n>": the last creation's ms and its tie-breaker within that ms
-- KEYS[6]  durations     hash    task type -> ","-joined ms from creation to completion of its recent tasks
-- KEYS[7]  type names    hash    task name -> task type (list filters find records of older releases)
-- KEYS[8]  types         set     every task type a record was created with (metrics per type)
-- ARGV[1]  now (ms since the epoch)
-- ARGV[2]  task id
-- ARGV[3]  task type
-- ARGV[4]  symbol ('' for none)
-- ARGV[5]  total items
-- ARGV[6]  message
-- ARGV[7]  metadata (JSON object)
-- ARGV[8]  index prefixes, "\n"-joined (sorted sets, score = creation ms; the status is appended): filter
--          combinations, and the owner's and parent batch's indexes when the metadata names them
-- ARGV[9]  max length of a task's event stream
-- ARGV[10] max length of the all-events stream
-- ARGV[11] Pub/Sub channel of this task
-- ARGV[12] task name ('' for none)
-- Returns {1, event id, expected ms or ''} when created, {0, current status} when the id already exists (creation
-- is idempotent: Celery republishes the same id on retry).

local existing = redis.call('HGET', KEYS[1], 'status')
if existing then return {0, existing} end

local now = ARGV[1]
local id = ARGV[2]

-- The index score is the creation ms plus a 3-digit fraction counting the tasks created in that same ms, so
-- "newest first" is creation order even within one millisecond (a double keeps 3 decimals exactly at epoch ms).
-- It is stored as the record's `created` (update.lua moves the record between indexes with that score).
local tie = 0
local last = redis.call('GET', KEYS[5])
local last_ms, last_n = nil, nil
if last then last_ms, last_n = string.match(last, '^(%d+) (%d+)$') end
if last_ms == now then tie = math.min(tonumber(last_n) + 1, 999) end
if not last_ms or tonumber(now) >= tonumber(last_ms) then redis.call('SET', KEYS[5], now .. ' ' .. tie) end
local score = (tie == 0) and now or string.format('%s.%03d', now, tie)

for _, p in ipairs(split_lines(ARGV[8])) do redis.call('ZADD', p .. 'created', score, id) end
redis.call('HINCRBY', KEYS[2], 'created', 1)
if ARGV[12] ~= '' then redis.call('HSET', KEYS[7], ARGV[12], ARGV[3]) end
redis.call('SADD', KEYS[8], ARGV[3])

-- Expected duration: the median of the type's recent creation-to-completion times (none without history).
local expected = ''
local sample = redis.call('HGET', KEYS[6], ARGV[3])
if sample then
  local ms = {}
  for d in string.gmatch(sample, '[^,]+') do ms[#ms + 1] = tonumber(d) end
  if #ms > 0 then
    table.sort(ms)
    expected = ms[math.floor((#ms + 1) / 2)]
  end
end

local ev = {task_id = id, status = 'created', current = 0, total = tonumber(ARGV[5]), message = ARGV[6],
  timestamp = tonumber(now), kind = 'created'}
local eid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', unpack(entry_fields(ev, false)))
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[10], '*', unpack(entry_fields(ev, true)))
local fields = {'id', id, 'type', ARGV[3], 'symbol', ARGV[4], 'status', 'created',
  'cur', 0, 'total', ARGV[5], 'msg', ARGV[6], 'meta', ARGV[7],
  'created', score, 'updated', now, 'attempt', 0, 'sidx', ARGV[8], 'evk', KEYS[3], 'ev', eid}
if ARGV[12] ~= '' then fields[#fields + 1] = 'name'; fields[#fields + 1] = ARGV[12] end
if expected ~= '' then fields[#fields + 1] = 'exp'; fields[#fields + 1] = expected end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PUBLISH', ARGV[11], eid .. ' ' .. cjson.encode(ev))
return {1, eid, tostring(expected)}
