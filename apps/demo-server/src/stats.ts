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
  /** Uploads accepted (new or resumed), and starts refused (a name that exists, a quota). */
  transfersStarted = 0
  transfersRefused = 0
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

/** Keys made so far, so the hot paths do not build a string per message. Labels are few. */
const keys = new Map<string, Map<string, string>>()
const MAX_CACHED_LABELS = 1024

/** `port` and `label` joined as one map key; split back by the metrics layer. */
export function key(port: string, label: string): string {
  let labels = keys.get(port)
  if (labels === undefined) {
    labels = new Map()
    keys.set(port, labels)
  }
  let k = labels.get(label)
  if (k === undefined) {
    k = `${port}\u0000${label}`
    if (labels.size < MAX_CACHED_LABELS) labels.set(label, k)
  }
  return k
}
