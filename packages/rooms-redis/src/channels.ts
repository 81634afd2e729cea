/**
 * Where everything lives in Redis, from one prefix. Channels: one per room (subscribed only
 * while this node has members in it), one shared channel for members queries, one reply channel
 * per node. Keys share the `{prefix}` hash tag so the liveness scripts touch one Redis Cluster
 * slot.
 */
export interface Names {
  room(room: string): string
  readonly requests: string
  reply(nodeId: string): string
  /** Set of node ids that have registered. */
  readonly nodes: string
  /** The node's heartbeat key; it expires when the node stops refreshing it. */
  heartbeat(nodeId: string): string
  /** Hash of the node's members: field = room + connection, value = the member's description. */
  members(nodeId: string): string
  /** Set for a while after a node was declared dead, so it can tell when it comes back. */
  reaped(nodeId: string): string
  /** Durable mode: the stream of every room envelope. */
  readonly stream: string
  /** Durable mode: the stream's generation token (another token: Redis lost the stream). */
  readonly generation: string
  /** What the scripts prepend to a node id to find its keys. */
  readonly keyPrefix: string
}

export function names(prefix: string): Names {
  const keyPrefix = `{${prefix}}:`
  return {
    room: (room) => `${prefix}#room#${room}`,
    requests: `${prefix}#members`,
    reply: (nodeId) => `${prefix}#reply#${nodeId}`,
    nodes: `${keyPrefix}nodes`,
    heartbeat: (nodeId) => `${keyPrefix}hb:${nodeId}`,
    members: (nodeId) => `${keyPrefix}members:${nodeId}`,
    reaped: (nodeId) => `${keyPrefix}reaped:${nodeId}`,
    stream: `${keyPrefix}stream`,
    generation: `${keyPrefix}stream:generation`,
    keyPrefix,
  }
}

/** The hash field of one (room, connection) pair: length-prefixed, so no separator can clash. */
export function memberField(room: string, connectionId: string): string {
  return `${room.length}:${room}${connectionId}`
}
