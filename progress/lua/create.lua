-- Creates a task record in status "created", indexes it, counts it, and announces it.
-- uses: _common.lua
--
-- KEYS[1]  record        hash
-- KEYS[2]  counts        hash    status -> number of records
-- KEYS[3]  task events   stream  this task's events
-- KEYS[4]  all events    stream  every task's events (capped)
-- ARGV[1]  now (ms since the epoch)
-- ARGV[2]  task id
-- ARGV[3]  task type
-- ARGV[4]  symbol ('' for none)
-- ARGV[5]  total items
-- ARGV[6]  message
-- ARGV[7]  metadata (JSON object)
-- ARGV[8]  static index keys, "\n"-joined (sorted sets, score = creation ms)
-- ARGV[9]  status index prefixes, "\n"-joined (status is appended)
-- ARGV[10] max length of a task's event stream
-- ARGV[11] max length of the all-events stream
-- ARGV[12] Pub/Sub channel of this task
-- Returns {1, event id} when created, {0, current status} when the id already exists (creation is idempotent:
-- Celery republishes the same id on retry).

local existing = redis.call('HGET', KEYS[1], 'status')
if existing then return {0, existing} end

local now = ARGV[1]
local id = ARGV[2]
redis.call('HSET', KEYS[1],
  'id', id, 'type', ARGV[3], 'symbol', ARGV[4], 'status', 'created',
  'cur', 0, 'total', ARGV[5], 'msg', ARGV[6], 'meta', ARGV[7],
  'created', now, 'updated', now, 'attempt', 0,
  'idx', ARGV[8], 'sidx', ARGV[9], 'evk', KEYS[3])
for _, k in ipairs(split_lines(ARGV[8])) do redis.call('ZADD', k, now, id) end
for _, p in ipairs(split_lines(ARGV[9])) do redis.call('ZADD', p .. 'created', now, id) end
redis.call('HINCRBY', KEYS[2], 'created', 1)

local payload = cjson.encode({task_id = id, status = 'created', current = 0, total = tonumber(ARGV[5]),
  message = ARGV[6], timestamp = tonumber(now), kind = 'created'})
local ev = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[10], '*', 'd', payload)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[11], '*', 'd', payload)
redis.call('HSET', KEYS[1], 'ev', ev)
redis.call('PUBLISH', ARGV[12], ev .. ' ' .. payload)
return {1, ev}
