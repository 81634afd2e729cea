import type { ProtocolError, VerbTcpError } from '@verb-tcp/core'

/** Counters, for dashboards and tests. Read through `adapter.stats` (a copy). */
export interface RedisAdapterStats {
  /** True while both connections to Redis are ready. */
  connected: boolean
  /** Times the adapter lost Redis after having had it. */
  outages: number
  /** Envelopes published. */
  published: number
  /** Broadcasts and notices not sent to other nodes because Redis was away (lost: at most once). */
  dropped: number
  /** Envelopes received from other nodes. */
  received: number
  /** Envelopes that could not be decoded: counted and ignored. */
  malformed: number
  /** Nodes this node declared dead (their heartbeat key expired) and removed. */
  nodesReaped: number
  /** `members()` answers that lacked some node's reply. */
  incompleteMembers: number
}

export interface RedisAdapterEvents {
  /** Redis became unreachable (or refused a command). Local delivery goes on. */
  redisDown: [error: VerbTcpError]
  /** Both connections are back; rooms are resubscribed and cross-node delivery resumes. */
  redisUp: []
  /** Another node's heartbeat expired; its members were announced as left. */
  nodeDown: [info: { nodeId: string; members: number }]
  /** An envelope could not be decoded; it was ignored. */
  malformed: [error: ProtocolError]
}
