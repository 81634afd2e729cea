import type { Socket } from 'node:net'
import { createServer } from '@verb-tcp/core'
import { afterEach, expect, it } from 'vitest'
import { attachPool, ConnectionPool, type SlowReaderPolicy } from '../src/index.ts'
import { client, closeAll, onCleanup, track, until } from './helpers.ts'

afterEach(closeAll)

const CLIENTS = 1_000
const CAP = 128 * 1024
const MESSAGE = Buffer.alloc(16 * 1024, 'm')
const ROUNDS = 8

/**
 * 1,000 loopback clients, one of which never reads. Its kernel buffers are filled first, with
 * writes straight to its socket, so that broadcasts then queue in the process: the case the
 * cap exists for. (Filling them by broadcasting would push gigabytes through the other 999.)
 */
async function scenario(slowReader: SlowReaderPolicy) {
  const pool = new ConnectionPool({ maxConnections: CLIENTS, maxBufferedBytes: CAP, slowReader })
  onCleanup(() => pool.close())
  const app = track(createServer())
  attachPool(app, pool)
  const { port } = await app.listen(0, '127.0.0.1')

  const received = new Map<Socket, number>()
  const clients: Socket[] = []
  for (let i = 0; i < CLIENTS; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: 100 }, (_, j) => client(port, `127.0.0.${10 + ((i + j) % 200)}`)),
    )
    clients.push(...batch)
  }
  await until(() => pool.size === CLIENTS)
  const [stalled, ...readers] = clients as [Socket, ...Socket[]]
  stalled.pause()
  for (const socket of readers) {
    received.set(socket, 0)
    socket.on('data', (chunk: Buffer) =>
      received.set(socket, (received.get(socket) ?? 0) + chunk.length),
    )
  }
  const slowServerSide = [...app.connections].find(
    (s) => s.remotePort === stalled.localPort && s.remoteAddress === stalled.localAddress,
  )
  if (!slowServerSide) throw new Error('server side of the stalled client not found')
  const slowId = pool.idOf(slowServerSide) as string
  // Fill the kernel's buffers for the stalled client (bounded: at most 64 MiB).
  const filler = Buffer.alloc(64 * 1024)
  for (let i = 0; i < 1024 && slowServerSide.writableLength === 0; i++) slowServerSide.write(filler)
  expect(slowServerSide.writableLength).toBeGreaterThan(0)

  const results = []
  let maxQueued = 0
  for (let round = 1; round <= ROUNDS; round++) {
    results.push(pool.broadcast(MESSAGE))
    if (!slowServerSide.destroyed) maxQueued = Math.max(maxQueued, slowServerSide.writableLength)
    await until(() => readers.every((s) => received.get(s) === round * MESSAGE.length))
  }
  return { pool, results, maxQueued, slowServerSide, slowId, readers, received }
}

it("'skip': a reader that never reads stays under the cap, and the 999 others get every message", async () => {
  const { pool, results, maxQueued, slowId } = await scenario('skip')
  expect(maxQueued).toBeLessThanOrEqual(CAP)
  const skipped = results.reduce((n, r) => n + r.skipped, 0)
  expect(skipped).toBeGreaterThan(0)
  for (const r of results) expect(r.sent + r.skipped).toBe(CLIENTS)
  expect(pool.has(slowId)).toBe(true)
  expect(pool.counters.skippedSlow).toBe(skipped)
})

it("'close': the reader that never reads is closed once over the cap; the others get every message", async () => {
  const { pool, results, maxQueued, slowServerSide, slowId } = await scenario('close')
  expect(maxQueued).toBeLessThanOrEqual(CAP)
  expect(results.reduce((n, r) => n + r.closed, 0)).toBe(1)
  expect(slowServerSide.destroyed).toBe(true)
  expect(pool.has(slowId)).toBe(false)
  expect(pool.size).toBe(CLIENTS - 1)
  expect(results.at(-1)).toEqual({ sent: CLIENTS - 1, skipped: 0, closed: 0 })
})
