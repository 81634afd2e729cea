import type { Names } from './channels.ts'
import type { Connection } from './connections.ts'

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

/** A member of a reaped node, as its node had registered it. */
export interface ReapedMember {
  room: string
  connection: string
  info: Buffer
}

/** What liveness needs of its adapter. */
export interface LivenessLink {
  readonly pub: Connection
  readonly names: Names
  readonly nodeId: string
  readonly nodeTimeoutMs: number
  readonly heartbeatIntervalMs: number
  /**
   * Redis no longer had this node registered: it restarted empty, or (`announce`) the other
   * nodes declared this one dead and told their members that its members left.
   */
  reregister(announce: boolean): void
  /** This node reaped a dead one: exactly one node gets each dead node's members. */
  reaped(nodeId: string, members: ReapedMember[]): void
  /** A heartbeat went through, scripts and all. */
  alive(): void
  lost(error: Error): void
}

/** The node's heartbeat, and the reaping of nodes whose heartbeat stopped. */
export class Liveness {
  readonly #link: LivenessLink
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(link: LivenessLink) {
    this.#link = link
  }

  /** Beats every heartbeat interval from now until `stop()`; a second call changes nothing. */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return
    this.#timer = setInterval(() => this.beat(), this.#link.heartbeatIntervalMs)
    this.#timer.unref()
  }

  stop(): void {
    this.#stopped = true
    clearInterval(this.#timer)
  }

  /** Refreshes the heartbeat, re-registers the node if Redis forgot it, and reaps dead nodes. */
  beat(): void {
    const link = this.#link
    if (this.#stopped || link.pub.status !== 'ready') return
    const { names: n, nodeId: id, nodeTimeoutMs: ttl } = link
    link.pub
      .eval(HEARTBEAT_SCRIPT, 3, n.nodes, n.heartbeat(id), n.reaped(id), id, ttl)
      .then((state) => {
        if (state !== 0) link.reregister(state === 2)
        return link.pub.eval(REAP_SCRIPT, 1, n.nodes, n.keyPrefix, id, ttl * 4)
      })
      .then((reaped) => {
        for (const node of parseReaped(reaped as unknown[])) link.reaped(node.nodeId, node.members)
        link.alive()
      })
      .catch((error: Error) => link.lost(error))
  }
}

/**
 * REAP_SCRIPT's answer: node id, then that node's members hash as a flat list of fields
 * (`<room length>:<room><connection>`) and values (the member's description). A field that
 * does not have that shape is left out.
 */
export function parseReaped(reaped: unknown[]): { nodeId: string; members: ReapedMember[] }[] {
  const nodes: { nodeId: string; members: ReapedMember[] }[] = []
  for (let i = 0; i + 1 < reaped.length; i += 2) {
    const flat = reaped[i + 1] as unknown[]
    const members: ReapedMember[] = []
    for (let j = 0; j + 1 < flat.length; j += 2) {
      const field = String(flat[j])
      const colon = field.indexOf(':')
      if (colon < 1) continue
      const roomLength = Number(field.slice(0, colon))
      members.push({
        room: field.slice(colon + 1, colon + 1 + roomLength),
        connection: field.slice(colon + 1 + roomLength),
        info: Buffer.from(String(flat[j + 1]), 'utf8'),
      })
    }
    nodes.push({ nodeId: String(reaped[i]), members })
  }
  return nodes
}
