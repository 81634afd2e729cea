import type { ProtocolError, VerbTcpError } from '@verb-tcp/core'

/** Counters, for dashboards and tests. Read through `adapter.stats` (a copy). */
export interface RedisAdapterStats {
  /** True while both connections to Redis are ready. */
  connected: boolean
  /** Times the adapter lost Redis after having had it. */
  outages: number
  /** Envelopes published. */
  published: number
  /**
   * Broadcasts and notices not sent to other nodes: because Redis was away (at-most-once mode),
   * or let go by the outbox's limits before Redis acknowledged them (durable mode).
   */
  dropped: number
  /** Envelopes received from other nodes. */
  received: number
  /** Envelopes that could not be decoded: counted and ignored. */
  malformed: number
  /** Nodes this node declared dead (their heartbeat key expired) and removed. */
  nodesReaped: number
  /** `members()` answers that lacked some node's reply. */
  incompleteMembers: number
  /** Durable mode: envelopes written to the stream again after a reconnect or a lost stream. */
  resent: number
  /** Durable mode: envelopes read again (resends) and ignored: members got them once. */
  duplicates: number
  /** Durable mode: envelopes of other nodes that never arrived (gaps in a sender's sequence). */
  missed: number
  /** Durable mode: times Redis was found to have lost the stream (it restarted empty). */
  streamResets: number
  /** Durable mode: envelopes of this node not yet acknowledged by Redis. */
  outbox: number
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
