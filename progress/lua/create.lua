-- Creates a task record in status "created", indexes it, counts it, and announces it.
-- uses: _common.lua
--
-- KEYS[1]  record        hash
-- KEYS[2]  counts        hash    status -> number of records
-- KEYS[3]  task events   stream  this task's events
-- KEYS[4]  all events    stream  every task's status changes (capped)
-- ARGV[1]  now (ms since the epoch)
-- ARGV[2]  task id
-- ARGV[3]  task type
-- ARGV[4]  symbol ('' for none)
-- ARGV[5]  total items
-- ARGV[6]  message
-- ARGV[7]  metadata (JSON object)
-- ARGV[8]  index prefixes, "\n"-joined (sorted sets, score = creation ms; the status is appended)
-- ARGV[9]  max length of a task's event stream
-- ARGV[10] max length of the all-events stream
-- ARGV[11] Pub/Sub channel of this task
-- Returns {1, event id} when created, {0, current status} when the id already exists (creation is idempotent:
-- Celery republishes the same id on retry).

local existing = redis.call('HGET', KEYS[1], 'status')
if existing then return {0, existing} end

local now = ARGV[1]
local id = ARGV[2]
for _, p in ipairs(split_lines(ARGV[8])) do redis.call('ZADD', p .. 'created', now, id) end
redis.call('HINCRBY', KEYS[2], 'created', 1)

local ev = {task_id = id, status = 'created', current = 0, total = tonumber(ARGV[5]), message = ARGV[6],
  timestamp = tonumber(now), kind = 'created'}
local eid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', unpack(entry_fields(ev, false)))
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[10], '*', unpack(entry_fields(ev, true)))
redis.call('HSET', KEYS[1],
  'id', id, 'type', ARGV[3], 'symbol', ARGV[4], 'status', 'created',
  'cur', 0, 'total', ARGV[5], 'msg', ARGV[6], 'meta', ARGV[7],
  'created', now, 'updated', now, 'attempt', 0, 'sidx', ARGV[8], 'evk', KEYS[3], 'ev', eid)
redis.call('PUBLISH', ARGV[11], eid .. ' ' .. cjson.encode(ev))
return {1, eid}
