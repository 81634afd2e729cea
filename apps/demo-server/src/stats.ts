/**
 * Plain counters the servers bump on their hot paths; the metrics registry reads them when it is
 * scraped. A prom-client label lookup per message would cost more than the message itself.
 */
export class Stats {
  /** Messages received, by port and message type (unknown types count as `other`). */
  readonly messagesIn = new Map<string, number>()
  /** Messages sent, by port and message type. */
  readonly messagesOut = new Map<string, number>()
  /** Errors, by port and code. */
  readonly errors = new Map<string, number>()
  /** Bytes of connections already closed, by port; live ones are read from their sockets. */
  readonly closedBytesIn = new Map<string, number>()
  readonly closedBytesOut = new Map<string, number>()
  transfersStarted = 0
  transfersCompleted = 0
  transfersFailed = 0
  transferBytes = 0
  muxSessions = 0
  muxStreamsOpen = 0
  muxStreamsTotal = 0

  count(map: Map<string, number>, key: string, by = 1): void {
    map.set(key, (map.get(key) ?? 0) + by)
  }
}

/** `port` and `label` joined as one map key; split back by the metrics layer. */
export const key = (port: string, label: string): string => `${port}\u0000${label}`
