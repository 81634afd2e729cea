/**
 * The two scripts behind node liveness. Each node refreshes its heartbeat key (with a TTL) and
 * registers in the node set; any node reaps registered nodes whose heartbeat key is gone. Reaping
 * is one script, so exactly one node gets a dead node's members and announces they left.
 */

/**
 * KEYS: nodes set, own heartbeat key, own reaped marker. ARGV: node id, TTL in ms.
 * Returns 0 (registered already), 1 (newly registered: first start, or Redis lost its data),
 * or 2 (registered again after other nodes declared this one dead).
 */
export const HEARTBEAT_SCRIPT = `
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
local added = redis.call('SADD', KEYS[1], ARGV[1])
if added == 1 and redis.call('DEL', KEYS[3]) == 1 then return 2 end
return added
`

/**
 * KEYS: nodes set. ARGV: key prefix, own node id, how long to keep the reaped marker (ms).
 * Returns a flat list: node id, then that node's members hash as a flat field/value list.
 */
export const REAP_SCRIPT = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'hb:' .. id) == 0 then
    local key = ARGV[1] .. 'members:' .. id
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGETALL', key)
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], id)
    redis.call('SET', ARGV[1] .. 'reaped:' .. id, '1', 'PX', ARGV[3])
  end
end
return out
`
