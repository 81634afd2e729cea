import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { encodeMessage } from '@verb-tcp/json-frames'
import { HEARTBEAT_FRAME } from '../clients.ts'
import { OPEN_LIMITS } from '../limits.ts'
import { expect, type Scenario } from '../scenario.ts'
import type { Ports, ServerProcess, ServerStats } from '../server.ts'
import { MiB, mib, pool, withTimeout } from '../util.ts'

const PING = encodeMessage({ type: 'ping', id: 'churn-ping' })

type Ending = 'end' | 'destroy' | 'reset'
const ENDINGS: Ending[] = ['end', 'destroy', 'reset']

/**
 * Source addresses for the clients: every one is a fresh range of ephemeral ports, so 200,000
 * connections in a few minutes do not run out of them while closed ones sit in TIME_WAIT.
 */
const SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`)

/** One short connection: connect, one exchange in the port's protocol, then close `ending`-wise. */
function shortConnection(port: number, kind: keyof Ports, index: number): Promise<void> {
  if (kind === 'http') return httpGet(port, index)
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({
      port,
      host: '127.0.0.1',
      localAddress: SOURCES[index % SOURCES.length],
    })
    const ending = ENDINGS[index % ENDINGS.length] as Ending
    let received = Buffer.alloc(0)
    let done = false
    const finish = (error?: Error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (error) {
        socket.destroy()
        reject(error)
        return
      }
      if (ending === 'end') socket.end()
      else if (ending === 'destroy') socket.destroy()
      else socket.resetAndDestroy()
      resolve()
    }
    const timer = setTimeout(() => finish(new Error(`${kind}: no answer in 20 s`)), 20_000)
    socket.on('error', (error) => finish(error))
    socket.on('connect', () => {
      if (kind === 'message') socket.write(PING)
      else if (kind === 'binary') socket.write(HEARTBEAT_FRAME)
      else socket.write('churn\n')
    })
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const text = received.toString('latin1')
      if (kind === 'echo' && text.includes('churn\n')) finish()
      else if (kind === 'message' && text.includes('churn-ping')) finish()
      // A pong frame: type 0x0002 and its 4-byte payload.
      else if (kind === 'binary' && received.length >= 12) finish()
    })
    socket.on('end', () => {
      if (!done) finish(new Error(`${kind}: the server ended the connection first`))
    })
  })
}

function httpGet(port: number, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/healthz',
        agent: false,
        localAddress: SOURCES[index % SOURCES.length],
      },
      (res) => {
        res.resume()
        res.once('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`healthz ${res.statusCode}`)),
        )
      },
    )
    req.setTimeout(20_000, () => req.destroy(new Error('healthz timed out')))
    req.once('error', reject)
    req.end()
  })
}

/** Live gauges of connections, pool members and throttled addresses that should drain to zero. */
function liveGauges(metrics: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>()
  for (const [key, value] of metrics) {
    // Process metrics (prom-client's, under the demo's prefix) count the scrape's own socket.
    if (/_total|_bucket|_sum|_count|_created|_demo_|^nodejs_|^process_/.test(key)) continue
    if (
      /connection|throttl|tracked|member|socket|stream|session|room/i.test(key) &&
      !/max|limit/i.test(key)
    )
      out.set(key, value)
  }
  return out
}

async function settledStats(
  server: ServerProcess,
  baseline: ServerStats | undefined,
): Promise<ServerStats> {
  // Closed sockets take a moment to leave the server's handle list and fd table.
  // Without a baseline, settled means two reads half a second apart agree.
  let stats = await server.stats()
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (baseline && stats.fds <= baseline.fds && stats.handles <= baseline.handles) break
    await new Promise((resolve) => setTimeout(resolve, 500))
    const next = await server.stats()
    const same = next.fds === stats.fds && next.handles === stats.handles
    stats = next
    if (!baseline && same) break
  }
  return stats
}

/**
 * Short connections across every port with every way of closing (end, destroy, reset); the
 * server's memory, handles and fds are read after a GC at a baseline and after each quarter,
 * and must come back to the baseline; its connection gauges must come back to zero.
 */
export const churn: Scenario = {
  name: 'churn',
  needs: ['echo'],
  async run({ mode, startServer, log }, report) {
    const total = mode === 'full' ? 200_000 : 6_000
    // A per-address throttler that never refuses (every client here is 127.0.0.1): it is on so
    // that its gauges (addresses tracked, connections it counts as open) are among those that
    // must come back to zero, with the pool's.
    const server = await startServer({
      flags: { ...OPEN_LIMITS, 'max-per-ip': 1_000_000, 'idle-timeout': 60_000 },
    })
    const kinds = (['echo', 'message', 'binary', 'http'] as const).filter(
      (k) => server.ports[k] !== undefined,
    )
    report.load = `${total.toLocaleString('en')} short connections over ${kinds.join(', ')} (64 at a time; closed by end, destroy and reset in turn)`
    const run = async (count: number, offset: number) => {
      let failed = 0
      const failures = new Map<string, number>()
      await pool(count, 64, async (i) => {
        const index = offset + i
        const kind = kinds[index % kinds.length] as keyof Ports
        try {
          await shortConnection(server.ports[kind] as number, kind, index)
        } catch (error) {
          failed++
          const key = (error as NodeJS.ErrnoException).code ?? (error as Error).message
          failures.set(key, (failures.get(key) ?? 0) + 1)
        }
      })
      return { failed, failures }
    }
    const warmup = Math.max(500, total / 100)
    await run(warmup, 0)
    const baseline = await settledStats(server, undefined)
    const metricsBefore = await server.metrics()
    log(
      `churn: baseline rss ${mib(baseline.rss)} heap ${mib(baseline.heapUsed)} fds ${baseline.fds}`,
    )
    const heapCurve: number[] = []
    let failed = 0
    const failures = new Map<string, number>()
    const quarter = Math.ceil(total / 4)
    const start = Date.now()
    for (let q = 0; q < 4; q++) {
      const result = await withTimeout(
        run(quarter, warmup + q * quarter),
        600_000,
        'a quarter of the churn',
      )
      failed += result.failed
      for (const [k, v] of result.failures) failures.set(k, (failures.get(k) ?? 0) + v)
      const stats = await server.stats()
      heapCurve.push(stats.heapUsed)
      log(
        `churn: ${(q + 1) * quarter} done, heap ${mib(stats.heapUsed)} rss ${mib(stats.rss)} fds ${stats.fds}`,
      )
    }
    const seconds = (Date.now() - start) / 1000
    const final = await settledStats(server, baseline)
    const metrics = await server.metrics()
    const gauges = liveGauges(metrics)
    report.figures = {
      'connections/s': Math.round((quarter * 4) / seconds),
      failed,
      'rss base→end': `${mib(baseline.rss)} → ${mib(final.rss)}`,
      'heap base→end': `${mib(baseline.heapUsed)} → ${mib(final.heapUsed)}`,
      'heap per quarter': heapCurve.map(mib).join(', '),
      'arrayBuffers base→end': `${mib(baseline.arrayBuffers)} → ${mib(final.arrayBuffers)}`,
      'handles base→end': `${baseline.handles} → ${final.handles}`,
      'fds base→end': `${baseline.fds} → ${final.fds}`,
    }
    if (gauges.size > 0)
      report.figures['gauges at end'] = [...gauges].map(([k, v]) => `${k}=${v}`).join(', ')
    void metricsBefore
    expect(
      report,
      failed === 0,
      `${failed} connections failed: ${[...failures].map(([k, v]) => `${k} ×${v}`).join(', ')}`,
    )
    expect(report, final.fds <= baseline.fds + 2, `fds ${baseline.fds} → ${final.fds}`)
    expect(
      report,
      final.handles <= baseline.handles + 2,
      `handles ${baseline.handles} → ${final.handles}`,
    )
    expect(
      report,
      final.heapUsed <= baseline.heapUsed * 1.1 + 8 * MiB,
      `heap ${mib(baseline.heapUsed)} → ${mib(final.heapUsed)}`,
    )
    expect(
      report,
      final.arrayBuffers <= baseline.arrayBuffers + 4 * MiB,
      `arrayBuffers ${mib(baseline.arrayBuffers)} → ${mib(final.arrayBuffers)}`,
    )
    expect(
      report,
      final.rss <= baseline.rss + 96 * MiB,
      `rss ${mib(baseline.rss)} → ${mib(final.rss)}`,
    )
    for (const [key, value] of gauges)
      expect(report, value === 0, `${key} is ${value} after every client left`)
    expect(report, server.alive, 'the server died')
  },
}
