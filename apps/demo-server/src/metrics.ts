import type { PoolCounters, ThrottlerCounters } from '@verb-tcp/pool'
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import type { Stats } from './stats.ts'

/** A port's server, as the metrics see it: its live sockets, and its admission counters. */
export interface PortView {
  port: string
  sockets: () => Iterable<{ bytesRead: number; bytesWritten: number }>
  admission: () => {
    accepted: number
    refusedByLimit: number
    refusedByThrottle: number
    closedIdle: number
  }
  /** The port's connection pool. */
  pool: () => PoolCounters
}

export interface MetricsSources {
  stats: Stats
  ports: readonly PortView[]
  rooms: () => { rooms: number; members: number }
  /** The per-address throttler shared by every port, when one is configured. */
  throttler?: () => ThrottlerCounters
}

/**
 * The Prometheus registry: counters are read from `Stats` and the servers when scraped (the hot
 * paths bump plain numbers), plus prom-client's default process metrics (event-loop lag, heap,
 * CPU, handles).
 */
export function createMetrics(sources: MetricsSources, registry = new Registry()): Registry {
  const { stats, ports } = sources
  collectDefaultMetrics({ register: registry })
  const split = (k: string) => k.split('\u0000') as [string, string]

  const fromMap = (
    name: string,
    help: string,
    labels: [string, string],
    map: Map<string, number>,
  ) =>
    new Counter({
      name,
      help,
      labelNames: labels,
      registers: [registry],
      collect() {
        this.reset()
        for (const [k, n] of map) {
          const [a, b] = split(k)
          this.inc({ [labels[0]]: a, [labels[1]]: b }, n)
        }
      },
    })
  fromMap(
    'verb_tcp_messages_received_total',
    'Messages and frames received, by port and type.',
    ['port', 'type'],
    stats.messagesIn,
  )
  fromMap(
    'verb_tcp_messages_sent_total',
    'Messages and frames sent, by port and type.',
    ['port', 'type'],
    stats.messagesOut,
  )
  fromMap(
    'verb_tcp_errors_total',
    'Errors by port and code (bad frames, refused requests, slow readers).',
    ['port', 'code'],
    stats.errors,
  )

  new Gauge({
    name: 'verb_tcp_connections',
    help: 'Connections open now, by port.',
    labelNames: ['port'],
    registers: [registry],
    collect() {
      for (const view of ports) this.set({ port: view.port }, [...view.sockets()].length)
    },
  })
  new Counter({
    name: 'verb_tcp_connections_total',
    help: 'Connections admitted, refused by the connection limit or the per-IP throttle, or closed idle, by port.',
    labelNames: ['port', 'outcome'],
    registers: [registry],
    collect() {
      this.reset()
      for (const view of ports) {
        const a = view.admission()
        this.inc({ port: view.port, outcome: 'accepted' }, a.accepted)
        this.inc({ port: view.port, outcome: 'refused_limit' }, a.refusedByLimit)
        this.inc({ port: view.port, outcome: 'refused_throttle' }, a.refusedByThrottle)
        this.inc({ port: view.port, outcome: 'closed_idle' }, a.closedIdle)
      }
    },
  })
  const bytes = (
    name: string,
    help: string,
    field: 'bytesRead' | 'bytesWritten',
    closed: Map<string, number>,
  ) =>
    new Counter({
      name,
      help,
      labelNames: ['port'],
      registers: [registry],
      collect() {
        this.reset()
        for (const view of ports) {
          let n = closed.get(view.port) ?? 0
          for (const socket of view.sockets()) n += socket[field]
          this.inc({ port: view.port }, n)
        }
      },
    })
  bytes(
    'verb_tcp_bytes_received_total',
    'Bytes read from clients, by port.',
    'bytesRead',
    stats.closedBytesIn,
  )
  bytes(
    'verb_tcp_bytes_sent_total',
    'Bytes written to clients, by port.',
    'bytesWritten',
    stats.closedBytesOut,
  )

  new Gauge({
    name: 'verb_tcp_pool_connections',
    help: 'Connections held by the connection pool now, by port.',
    labelNames: ['port'],
    registers: [registry],
    collect() {
      for (const view of ports) this.set({ port: view.port }, view.pool().connections)
    },
  })
  new Counter({
    name: 'verb_tcp_pool_slow_readers_total',
    help: 'Pool broadcasts to slow readers, by port and what was done (skipped the message, closed the connection).',
    labelNames: ['port', 'action'],
    registers: [registry],
    collect() {
      this.reset()
      for (const view of ports) {
        const c = view.pool()
        this.inc({ port: view.port, action: 'skipped' }, c.skippedSlow)
        this.inc({ port: view.port, action: 'closed' }, c.closedSlow)
      }
    },
  })
  const throttler = sources.throttler
  if (throttler) {
    new Gauge({
      name: 'verb_tcp_throttler_tracked_addresses',
      help: 'Client addresses the per-address throttler remembers now (seen within the rate window, or with connections open).',
      registers: [registry],
      collect() {
        this.set(throttler().tracked)
      },
    })
    new Gauge({
      name: 'verb_tcp_throttler_open_connections',
      help: 'Connections the per-address throttler counts as open (accepted, not yet closed), every port together.',
      registers: [registry],
      collect() {
        this.set(throttler().open)
      },
    })
    new Counter({
      name: 'verb_tcp_throttler_refusals_total',
      help: 'Connections refused by the per-address throttler, by reason (rate: --ip-rate in --ip-window; concurrency: --max-per-ip; capacity: too many addresses tracked).',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        this.reset()
        const c = throttler()
        this.inc({ reason: 'rate' }, c.refusedByRate)
        this.inc({ reason: 'concurrency' }, c.refusedByConcurrency)
        this.inc({ reason: 'capacity' }, c.refusedByCapacity)
      },
    })
    new Counter({
      name: 'verb_tcp_throttler_accepted_total',
      help: 'Connections the per-address throttler let through, every port together.',
      registers: [registry],
      collect() {
        this.reset()
        this.inc(throttler().accepted)
      },
    })
    new Counter({
      name: 'verb_tcp_throttler_evicted_total',
      help: 'Addresses the throttler forgot (their window passed, or to stay within its memory cap).',
      registers: [registry],
      collect() {
        this.reset()
        this.inc(throttler().evicted)
      },
    })
  }

  new Gauge({
    name: 'verb_tcp_rooms',
    help: 'Rooms with at least one member in this process.',
    registers: [registry],
    collect() {
      this.set(sources.rooms().rooms)
    },
  })
  new Gauge({
    name: 'verb_tcp_room_members',
    help: 'Room memberships (a connection in two rooms counts twice) in this process.',
    registers: [registry],
    collect() {
      this.set(sources.rooms().members)
    },
  })
  new Counter({
    name: 'verb_tcp_transfers_total',
    help: 'File transfers, by outcome: started (accepted, new or resumed), refused (at start: nothing opened), completed, failed.',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset()
      this.inc({ outcome: 'started' }, stats.transfersStarted)
      this.inc({ outcome: 'refused' }, stats.transfersRefused)
      this.inc({ outcome: 'completed' }, stats.transfersCompleted)
      this.inc({ outcome: 'failed' }, stats.transfersFailed)
    },
  })
  new Counter({
    name: 'verb_tcp_transfer_bytes_total',
    help: 'File bytes received by transfers.',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(stats.transferBytes)
    },
  })
  new Gauge({
    name: 'verb_tcp_mux_streams',
    help: 'Mux streams open now on the binary port.',
    registers: [registry],
    collect() {
      this.set(stats.muxStreamsOpen)
    },
  })
  new Counter({
    name: 'verb_tcp_mux_streams_total',
    help: 'Mux streams opened by clients on the binary port.',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(stats.muxStreamsTotal)
    },
  })
  new Gauge({
    name: 'verb_tcp_mux_sessions',
    help: 'Mux sessions open now on the binary port.',
    registers: [registry],
    collect() {
      this.set(stats.muxSessions)
    },
  })
  return registry
}
