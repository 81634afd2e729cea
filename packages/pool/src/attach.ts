import type { TCPSocket } from '@verb-tcp/core'
import { argError, knownKeys, optionKeys } from '@verb-tcp/core/validate'
import type { ConnectionPool } from './connection-pool.ts'
import type { ConnectionThrottler } from './throttler.ts'
import type { AdmissionCounters, AdmissionHost, AttachOptions } from './types.ts'

export interface AttachParts extends AttachOptions {
  pool?: ConnectionPool
  throttler?: ConnectionThrottler
}

const PART_KEYS = optionKeys<AttachParts>({
  pool: true,
  throttler: true,
  fullNotice: true,
  throttledNotice: true,
})

/** What `attach` returns: the server's admission counters, and a way to stop. */
export interface Attachment {
  /** Counters for a monitoring layer; a fresh object each time. */
  readonly counters: AdmissionCounters
  /**
   * Stops checking new connections: the admission check is removed if the server has
   * `offAdmit`, and otherwise admits everything from now on. Connections already in the pool
   * stay there, and still give their throttler slot back when they close.
   */
  detach(): void
}

/**
 * Puts a server (core's `TcpServer`, or anything with `onAdmit`) under a pool and/or a
 * throttler, checked at accept time, before any `onConnection` handler:
 *
 * 1. the throttler, if any, decides on the client's address; a refusal writes
 *    `throttledNotice` (if set);
 * 2. the pool, if any, takes the connection; when full it writes `fullNotice` (if set);
 * 3. a refused connection is ended by the server and never reaches the application.
 *
 * An admitted connection is in the pool before the application's `onConnection` runs, and gives
 * its throttler slot back when it closes, however it closes. To use both a throttler and a pool,
 * pass both to one call: the checks then run in that order and nothing has to be undone.
 */
export function attach(server: AdmissionHost, parts: AttachParts): Attachment {
  knownKeys(parts, PART_KEYS, 'attach')
  const { pool, throttler, fullNotice, throttledNotice } = parts
  if (!pool && !throttler) {
    throw argError('ERR_INVALID_ARG_VALUE', 'attach needs a pool, a throttler, or both')
  }
  let detached = false
  let open = 0
  const counts = { accepted: 0, refusedByLimit: 0, refusedByThrottle: 0 }
  // Shared by every socket: `this` is the socket that closed. Its peer address is cached by
  // Node from the first read, so it is still there after the close.
  const release = function release(this: TCPSocket) {
    open--
    throttler?.releaseConnection(this.remoteAddress)
  }

  const admit = (socket: TCPSocket): boolean => {
    if (detached) return true
    if (throttler && throttler.acquire(socket.remoteAddress) !== 'accepted') {
      counts.refusedByThrottle++
      if (throttledNotice !== undefined) socket.write(throttledNotice)
      return false
    }
    let id: string | undefined
    try {
      id = pool?.tryAddConnection(socket)
    } catch (error) {
      // A closed pool: the server refuses the socket and reports this to onError.
      throttler?.releaseConnection(socket.remoteAddress)
      throw error
    }
    if (pool && id === undefined) {
      throttler?.releaseConnection(socket.remoteAddress)
      counts.refusedByLimit++
      if (fullNotice !== undefined) socket.write(fullNotice)
      return false
    }
    counts.accepted++
    open++
    // 'on', not 'once': 'close' comes once, and `once` would allocate a wrapper per socket.
    socket.on('close', release)
    return true
  }
  server.onAdmit(admit)

  return {
    get counters(): AdmissionCounters {
      return {
        connections: pool ? pool.size : open,
        ...counts,
        closedIdle: pool?.counters.closedIdle ?? 0,
      }
    },
    detach() {
      detached = true
      server.offAdmit?.(admit)
    },
  }
}

/** `attach(server, { pool, ...options })`. */
export function attachPool(
  server: AdmissionHost,
  pool: ConnectionPool,
  options: AttachOptions = {},
): Attachment {
  return attach(server, { ...options, pool })
}

/** `attach(server, { throttler, ...options })`. */
export function attachThrottler(
  server: AdmissionHost,
  throttler: ConnectionThrottler,
  options: AttachOptions = {},
): Attachment {
  return attach(server, { ...options, throttler })
}
