// The README's examples, as written there (only the port, the limits and cleanup differ).
import { once } from 'node:events'
import { createServer } from '@verb-tcp/core'
import { afterEach, expect, it } from 'vitest'
import { attach, BufferPool, ConnectionPool, ConnectionThrottler } from '../src/index.ts'
import { client, closeAll, onCleanup, readAll, track, until } from './helpers.ts'

afterEach(closeAll)

it('README: a chat server under a pool and a throttler', async () => {
  const pool = new ConnectionPool({ maxConnections: 2, idleTimeoutMs: 300_000 })
  const throttler = new ConnectionThrottler({
    maxPerWindow: 10,
    windowMs: 60_000,
    maxConcurrent: 20,
  })
  onCleanup(() => pool.close())

  const app = createServer().withOptions({
    port: 0,
    tcp: {
      // Runs only for admitted connections, which are already in the pool.
      onConnection: (socket) => {
        socket.on('data', (data) => pool.broadcast(data, pool.idOf(socket)))
      },
    },
  })
  track(app)
  const admission = attach(app, {
    pool,
    throttler,
    fullNotice: '{"type":"server_full"}\n',
    throttledNotice: '{"type":"too_many_connections"}\n',
  })
  const { port } = await app.listen()

  const alice = await client(port)
  const bob = await client(port)
  await until(() => pool.size === 2)
  expect(await readAll(await client(port))).toBe('{"type":"server_full"}\n')
  const heard = once(bob, 'data')
  alice.write('hello')
  expect(String((await heard)[0])).toBe('hello')
  expect(admission.counters).toEqual({
    connections: 2,
    accepted: 2,
    refusedByLimit: 1,
    refusedByThrottle: 0,
    closedIdle: 0,
  })
})

it("README: the verb docs' throttler API by hand", async () => {
  const app = track(createServer())
  const seen: string[] = []
  // --- as in the README ---
  const throttler = new ConnectionThrottler(10, 60_000)
  app.onConnection((socket) => {
    if (!throttler.canAcceptConnection(socket.remoteAddress)) return socket.destroy()
    socket.on('close', () => throttler.releaseConnection(socket.remoteAddress))
    seen.push(throttler.keyOf(socket.remoteAddress))
  })
  // ---
  const { port } = await app.listen(0, '127.0.0.1')
  await client(port, '127.0.0.9')
  await until(() => seen.length === 1)
  expect(seen).toEqual(['127.0.0.9'])
})

it('README: a BufferPool', () => {
  const buffers = new BufferPool({ bufferSize: 64 * 1024, maxPooled: 64 })
  const work = buffers.getBuffer()
  // … use it …
  buffers.returnBuffer(work) // zeroed, pooled; a foreign buffer throws ERR_FOREIGN_BUFFER
  expect(buffers.counters).toMatchObject({ pooled: 1, created: 1 })
})
