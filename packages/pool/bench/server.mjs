// One server in its own process, so its RSS is its own. Forked by run.mjs (through bash, to
// raise the open-files limit), which talks to it over IPC.
// Usage: node --expose-gc bench/server.mjs bare|core|core+admit|pool|pool+throttler
import net from 'node:net'
import { createServer } from '@verb-tcp/core'
import { attach, ConnectionPool, ConnectionThrottler } from '../dist/index.js'

const HOST = '127.0.0.1'
const kind = process.argv[2]

async function start() {
  if (kind === 'bare') {
    let count = 0
    const server = net.createServer((socket) => {
      count++
      socket.on('error', () => {})
      socket.once('close', () => count--)
    })
    server.listen({ port: 0, host: HOST, backlog: 4096 })
    await new Promise((resolve, reject) => {
      server.once('listening', resolve)
      server.once('error', reject)
    })
    return {
      port: server.address().port,
      count: () => count,
      stop: () => new Promise((resolve) => server.close(resolve)),
    }
  }
  const app = createServer().withOptions({ tcp: { backlog: 4096 } })
  let pool
  if (kind === 'pool' || kind === 'pool+throttler') {
    pool = new ConnectionPool({ maxConnections: 100_000, idleTimeoutMs: 300_000 })
    const throttler =
      kind === 'pool+throttler'
        ? new ConnectionThrottler({ maxPerWindow: 1_000_000, maxConcurrent: 100_000 })
        : undefined
    attach(app, { pool, ...(throttler && { throttler }), fullNotice: 'server full\n' })
  } else if (kind === 'core+admit') {
    // Diagnostic: core's admission plumbing alone, with a check that admits everything.
    app.onAdmit(() => true)
  } else if (kind !== 'core') {
    throw new Error(`unknown server kind ${kind}`)
  }
  const { port } = await app.listen(0, HOST)
  return {
    port,
    count: () => (pool ? pool.size : app.connections.size),
    stop: async () => {
      await app.close({ gracePeriod: 0 })
      pool?.close()
    },
  }
}

function measure() {
  for (let i = 0; i < 4; i++) globalThis.gc()
  const m = process.memoryUsage()
  const cpu = process.cpuUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, cpu: cpu.user + cpu.system }
}

const server = await start()
process.on('message', async (message) => {
  if (message === 'count') process.send({ count: server.count() })
  if (message === 'cpu') {
    const cpu = process.cpuUsage()
    process.send({ cpu: cpu.user + cpu.system })
  }
  if (message === 'measure') process.send({ memory: measure(), count: server.count() })
  if (message === 'stop') {
    await server.stop()
    process.disconnect()
  }
})
process.send({ port: server.port })
