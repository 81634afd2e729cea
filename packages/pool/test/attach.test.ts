import { once } from 'node:events'
import { createServer, type TCPSocket } from '@verb-tcp/core'
import { afterEach, describe, expect, it } from 'vitest'
import {
  attach,
  attachPool,
  attachThrottler,
  ConnectionPool,
  ConnectionThrottler,
} from '../src/index.ts'
import { client, closeAll, echoes, onCleanup, readAll, track, until } from './helpers.ts'

afterEach(closeAll)

/** A core echo server; `seen` lists every socket that reached onConnection. */
async function echoServer() {
  const seen: TCPSocket[] = []
  const app = track(
    createServer().withOptions({
      tcp: {
        onConnection: (socket) => {
          seen.push(socket)
          socket.on('data', (data) => socket.write(data))
        },
      },
    }),
  )
  return { app, seen, listen: async () => (await app.listen(0, '127.0.0.1')).port }
}

function newPool(options: ConstructorParameters<typeof ConnectionPool>[0] = {}) {
  const pool = new ConnectionPool(options)
  onCleanup(() => pool.close())
  return pool
}

describe('attachPool: the limit at accept time', () => {
  it('refuses the (limit+1)th client with a notice; it never reaches onConnection, and the first limit keep working', async () => {
    const { app, seen, listen } = await echoServer()
    const pool = newPool({ maxConnections: 3 })
    const admission = attachPool(app, pool, { fullNotice: 'server full\n' })
    const port = await listen()
    const kept = [await client(port), await client(port), await client(port)]
    await until(() => pool.size === 3)
    const extra = await client(port)
    expect(await readAll(extra)).toBe('server full\n')
    expect(seen).toHaveLength(3)
    expect(pool.ids()).toHaveLength(3)
    for (const socket of kept) expect(await echoes(socket)).toBe(true)
    expect(admission.counters).toEqual({
      connections: 3,
      accepted: 3,
      refusedByLimit: 1,
      refusedByThrottle: 0,
      closedIdle: 0,
    })
    expect(pool.counters.refusedByLimit).toBe(1)
  })

  it('without a notice, the refused client is just closed', async () => {
    const { app, listen } = await echoServer()
    attachPool(app, newPool({ maxConnections: 1 }))
    const port = await listen()
    await client(port)
    expect(await readAll(await client(port))).toBe('')
  })

  it('a closed connection frees its slot', async () => {
    const { app, seen, listen } = await echoServer()
    const pool = newPool({ maxConnections: 2 })
    attachPool(app, pool, { fullNotice: 'full' })
    const port = await listen()
    const first = await client(port)
    const second = await client(port)
    await until(() => pool.size === 2)
    expect(await readAll(await client(port))).toBe('full')
    first.end()
    await until(() => pool.size === 1)
    const third = await client(port)
    expect(await echoes(third)).toBe(true)
    expect(await echoes(second)).toBe(true)
    expect(seen).toHaveLength(3)
  })

  it('the count goes back to 0 after 1,000 clients come and go, ended or reset', async () => {
    const { app, listen } = await echoServer()
    const pool = newPool({ maxConnections: 100 })
    attachPool(app, pool)
    const port = await listen()
    for (let round = 0; round < 10; round++) {
      const batch = await Promise.all(Array.from({ length: 100 }, () => client(port)))
      await until(() => pool.size === 100)
      for (const [i, socket] of batch.entries()) {
        if (i % 2) socket.end()
        else socket.resetAndDestroy()
      }
      await until(() => pool.size === 0)
    }
    expect(pool.counters).toMatchObject({ connections: 0, accepted: 1_000, refusedByLimit: 0 })
    expect(app.connections.size).toBe(0)
  })

  it('the application sees the connection already in the pool', async () => {
    const pool = newPool()
    const ids: (string | undefined)[] = []
    const app = track(
      createServer().withOptions({
        tcp: { onConnection: (socket) => ids.push(pool.idOf(socket)) },
      }),
    )
    attachPool(app, pool)
    const { port } = await app.listen(0, '127.0.0.1')
    await client(port)
    await until(() => ids.length === 1)
    expect(ids).toEqual(['1'])
  })

  it('detach() stops checking', async () => {
    const { app, listen } = await echoServer()
    const pool = newPool({ maxConnections: 1 })
    const admission = attachPool(app, pool)
    const port = await listen()
    await client(port)
    await until(() => pool.size === 1)
    admission.detach()
    expect(await echoes(await client(port))).toBe(true)
  })
})

describe('attachThrottler: per-address limits at accept time', () => {
  it('refuses one address over its window while another address is served', async () => {
    const { app, seen, listen } = await echoServer()
    const throttler = new ConnectionThrottler({ maxPerWindow: 2, windowMs: 60_000 })
    const admission = attachThrottler(app, throttler, { throttledNotice: 'slow down\n' })
    const port = await listen()
    const a = [await client(port, '127.0.0.2'), await client(port, '127.0.0.2')]
    expect(await readAll(await client(port, '127.0.0.2'))).toBe('slow down\n')
    const other = await client(port, '127.0.0.3')
    expect(await echoes(other)).toBe(true)
    for (const socket of a) expect(await echoes(socket)).toBe(true)
    expect(seen.map((s) => s.remoteAddress).sort()).toEqual(['127.0.0.2', '127.0.0.2', '127.0.0.3'])
    expect(admission.counters).toMatchObject({ accepted: 3, refusedByThrottle: 1, connections: 3 })
    expect(throttler.counters.refusedByRate).toBe(1)
  })

  it('maxConcurrent: a slot comes back when a connection closes', async () => {
    const { app, listen } = await echoServer()
    const throttler = new ConnectionThrottler({ maxPerWindow: 100, maxConcurrent: 1 })
    attachThrottler(app, throttler, { throttledNotice: 'busy' })
    const port = await listen()
    const first = await client(port, '127.0.0.4')
    expect(await echoes(first)).toBe(true)
    expect(await readAll(await client(port, '127.0.0.4'))).toBe('busy')
    first.destroy()
    await until(() => app.connections.size === 0)
    expect(await echoes(await client(port, '127.0.0.4'))).toBe(true)
  })
})

describe('attach: pool and throttler together', () => {
  it('throttles first, then the pool; a pool refusal gives the throttler slot back', async () => {
    const { app, seen, listen } = await echoServer()
    const pool = newPool({ maxConnections: 1 })
    const throttler = new ConnectionThrottler({ maxPerWindow: 3, maxConcurrent: 1 })
    const admission = attach(app, { pool, throttler, fullNotice: 'full', throttledNotice: 'busy' })
    const port = await listen()
    const kept = await client(port, '127.0.0.5')
    await until(() => pool.size === 1)
    // Another address: passes the throttler, refused by the pool, and its slot comes back.
    expect(await readAll(await client(port, '127.0.0.6'))).toBe('full')
    // Same address as `kept`: refused by the throttler (concurrency), not by the pool.
    expect(await readAll(await client(port, '127.0.0.5'))).toBe('busy')
    kept.destroy()
    await until(() => pool.size === 0)
    // 127.0.0.6 was refused by the pool, so it holds no concurrent slot: it gets in now.
    expect(await echoes(await client(port, '127.0.0.6'))).toBe(true)
    expect(admission.counters).toMatchObject({
      accepted: 2,
      refusedByLimit: 1,
      refusedByThrottle: 1,
    })
    expect(seen).toHaveLength(2)
  })

  it('a closed pool refuses through the server, which reports it to onError', async () => {
    const errors: unknown[] = []
    const { app, seen, listen } = await echoServer()
    app.onError((error) => errors.push(error))
    const pool = newPool()
    const throttler = new ConnectionThrottler({ maxConcurrent: 1 })
    attach(app, { pool, throttler })
    const port = await listen()
    pool.close()
    const socket = await client(port, '127.0.0.7')
    if (!socket.closed) await once(socket, 'close')
    expect(seen).toHaveLength(0)
    await until(() => errors.length === 1)
    expect(errors[0]).toMatchObject({ code: 'ERR_POOL_CLOSED' })
    // The throttler slot was given back.
    expect(throttler.acquire('127.0.0.7')).toBe('accepted')
  })

  it("core's forced shutdown empties the pool and gives every throttler slot back", async () => {
    const { app, listen } = await echoServer()
    const pool = newPool()
    const throttler = new ConnectionThrottler({ maxPerWindow: 100, maxConcurrent: 5 })
    const admission = attach(app, { pool, throttler })
    const port = await listen()
    for (let i = 0; i < 5; i++) await client(port, '127.0.0.8')
    await until(() => pool.size === 5)
    expect(throttler.acquire('127.0.0.8')).toBe('concurrency')
    const result = await app.close({ gracePeriod: 0 })
    expect(result.forced).toBe(5)
    expect(pool.size).toBe(0)
    expect(admission.counters.connections).toBe(0)
    for (let i = 0; i < 5; i++) expect(throttler.acquire('127.0.0.8')).toBe('accepted')
  })

  it('detach() uses offAdmit when the server has it', () => {
    const handlers = new Set<unknown>()
    const host = {
      onAdmit: (h: unknown) => handlers.add(h),
      offAdmit: (h: unknown) => handlers.delete(h),
    }
    const admission = attachPool(host, newPool())
    expect(handlers.size).toBe(1)
    admission.detach()
    expect(handlers.size).toBe(0)
  })

  it('needs at least one of them', () => {
    expect(() => attach({ onAdmit: () => {} }, {})).toThrow(TypeError)
  })

  it('rejects unknown option keys', () => {
    const unknown = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' })
    const host = { onAdmit: () => {} }
    expect(() => attach(host, { pool: newPool(), fullMessage: 'x' } as never)).toThrow(unknown)
    expect(() => attachPool(host, newPool(), { notice: 'x' } as never)).toThrow(unknown)
  })
})
