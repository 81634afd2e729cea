import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { isProtocolError } from '@verb-tcp/core'
import { closeAll, defer } from '@verb-tcp/core/testing'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ConnectionPool, type ConnectionPoolOptions, PoolErrorCode } from '../src/index.ts'

// Plain node:net on loopback: the pool takes any socket, not only core's.
let server: Server
let accepted: Socket[] = []

beforeEach(async () => {
  const own: Socket[] = []
  accepted = own
  const s = createServer((socket) => own.push(socket))
  server = s
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  defer(async () => {
    for (const socket of own) socket.destroy()
    await new Promise((resolve) => s.close(resolve))
  })
})

afterEach(async () => {
  vi.useRealTimers()
  await closeAll()
})

function pool(options: ConnectionPoolOptions = {}): ConnectionPool {
  const p = new ConnectionPool(options)
  defer(() => p.close())
  return p
}

/** A connected pair: the client, and the server's side of it. */
async function pair(): Promise<{ client: Socket; socket: Socket }> {
  const before = accepted.length
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  defer(() => client.destroy())
  client.on('error', () => {})
  await once(client, 'connect')
  while (accepted.length === before) await once(server, 'connection')
  return { client, socket: accepted[before] as Socket }
}

async function received(socket: Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  while (total < bytes) {
    const [chunk] = (await once(socket, 'data')) as [Buffer]
    chunks.push(chunk)
    total += chunk.length
  }
  return Buffer.concat(chunks)
}

describe('ConnectionPool: adding and removing', () => {
  it("has the verb docs' default of 1000 connections", () => {
    expect(pool().maxConnections).toBe(1000)
  })

  it('returns a unique id, and refuses the (limit+1)th with ERR_CONNECTION_LIMIT', async () => {
    const p = pool({ maxConnections: 2 })
    const refused: Socket[] = []
    p.on('refuse', (socket) => refused.push(socket))
    const [a, b, c] = [await pair(), await pair(), await pair()]
    const ids = [p.addConnection(a.socket), p.addConnection(b.socket)]
    expect(new Set(ids).size).toBe(2)
    expect(ids).toEqual(['1', '2'])
    let error: unknown
    try {
      p.addConnection(c.socket)
    } catch (thrown) {
      error = thrown
    }
    expect(error).toMatchObject({
      name: 'VerbTcpError',
      code: PoolErrorCode.CONNECTION_LIMIT,
      limit: 2,
    })
    expect(isProtocolError(error)).toBe(false)
    // Refusing is the caller's business: the socket is left alone.
    expect(c.socket.destroyed).toBe(false)
    expect(refused).toEqual([c.socket])
    expect(p.counters).toMatchObject({ connections: 2, accepted: 2, refusedByLimit: 1, peak: 2 })
    expect(p.tryAddConnection(c.socket)).toBeUndefined()
  })

  it('gives the same id for the same socket, and refuses dead sockets and a closed pool', async () => {
    const p = pool()
    const { socket } = await pair()
    const id = p.addConnection(socket)
    expect(p.addConnection(socket)).toBe(id)
    expect(p.size).toBe(1)
    const dead = (await pair()).socket
    dead.destroy()
    expect(() => p.addConnection(dead)).toThrow(
      expect.objectContaining({ code: PoolErrorCode.SOCKET_CLOSED }),
    )
    p.close()
    expect(() => p.addConnection((accepted[0] as Socket) ?? socket)).toThrow(
      expect.objectContaining({ code: PoolErrorCode.POOL_CLOSED }),
    )
  })

  it('drops a connection when its peer closes, and removes its listeners', async () => {
    const p = pool({ maxConnections: 1 })
    const { client, socket } = await pair()
    const listeners = [socket.listenerCount('close'), socket.listenerCount('error')]
    const removed: unknown[] = []
    p.on('remove', (id, reason) => removed.push([id, reason]))
    const id = p.addConnection(socket)
    expect(socket.listenerCount('close')).toBe((listeners[0] as number) + 1)
    client.end()
    await once(socket, 'close')
    expect(p.size).toBe(0)
    expect(removed).toEqual([[id, 'closed']])
    expect([socket.listenerCount('close'), socket.listenerCount('error')]).toEqual(listeners)
    // The slot is free again.
    expect(p.addConnection((await pair()).socket)).toBe('2')
  })

  it('drops a connection on error, and the error does not crash the process', async () => {
    const p = pool()
    const { socket } = await pair()
    const reasons: string[] = []
    p.on('remove', (_id, reason) => reasons.push(reason))
    p.addConnection(socket)
    // No other 'error' listener on this socket: without the pool's, this would throw.
    const closed = new Promise((resolve) => socket.once('close', resolve))
    socket.destroy(new Error('boom'))
    await closed
    expect(reasons).toEqual(['error'])
    expect(p.size).toBe(0)
    expect(socket.listenerCount('error')).toBe(0)
  })

  it('removeConnection destroys the socket and removes its listeners; an unknown id is false', async () => {
    const p = pool()
    const { client, socket } = await pair()
    const id = p.addConnection(socket)
    expect(p.removeConnection(id)).toBe(true)
    expect(socket.destroyed).toBe(true)
    expect(socket.listenerCount('close')).toBe(0)
    expect(p.removeConnection(id)).toBe(false)
    expect(p.has(id)).toBe(false)
    for (const bad of ['01', '1.0', ' 1', 'x', '']) expect(p.get(bad)).toBeUndefined()
    if (!client.closed) await once(client, 'close')
  })

  it('close() destroys every connection, is idempotent, and leaves nothing behind', async () => {
    const p = pool({ idleTimeoutMs: 60_000 })
    const sockets = [await pair(), await pair(), await pair()].map(({ socket }) => socket)
    for (const s of sockets) p.addConnection(s)
    const reasons: string[] = []
    p.on('remove', (_id, reason) => reasons.push(reason))
    expect(p.close()).toBe(3)
    expect(p.close()).toBe(0)
    expect(sockets.every((s) => s.destroyed)).toBe(true)
    expect(reasons).toEqual(['pool-closed', 'pool-closed', 'pool-closed'])
    expect(p.size).toBe(0)
  })

  it('rejects bad options', () => {
    expect(() => new ConnectionPool({ maxConnections: 0 })).toThrow(RangeError)
    expect(() => new ConnectionPool({ maxBufferedBytes: -1 })).toThrow(RangeError)
    expect(() => new ConnectionPool({ slowReader: 'drop' as never })).toThrow(TypeError)
    expect(() => new ConnectionPool({ idleTimeoutMs: 2 ** 31 })).toThrow(RangeError)
    expect(() => new ConnectionPool({ sweepIntervalMs: 0 })).toThrow(RangeError)
    expect(() => new ConnectionPool({ maxconnections: 1 } as never)).toThrow(/Unknown/)
  })
})

describe('ConnectionPool: stats', () => {
  it('counts bytes that crossed the socket, not string lengths', async () => {
    const p = pool()
    const { client, socket } = await pair()
    const id = p.addConnection(socket)
    const text = 'é€𝄞' // 4 UTF-16 units, 9 UTF-8 bytes
    client.write(text)
    await received(socket, 9)
    p.broadcast(text)
    expect((await received(client, 9)).toString()).toBe(text)
    const stats = p.getConnectionStats()
    expect(stats.total).toBe(1)
    expect(stats.connections[0]).toMatchObject({
      id,
      bytesReceived: 9,
      bytesSent: 9,
      pendingBytes: 0,
      remoteAddress: '127.0.0.1',
      remotePort: client.localPort,
    })
  })

  it("has the verb docs' fields: uptime and lastActivity (ms idle) on the pool's clock", async () => {
    const clock = { now: 5_000 }
    const p = pool({ now: () => clock.now })
    const { client, socket } = await pair()
    p.addConnection(socket)
    const before = Date.now()
    clock.now += 3_000
    let [stat] = p.getConnectionStats().connections
    expect(stat).toMatchObject({ uptime: 3_000, lastActivity: 3_000 })
    expect(stat?.connectedAt).toBeLessThanOrEqual(before)
    client.write('x')
    await received(socket, 1)
    clock.now += 500
    ;[stat] = p.getConnectionStats().connections
    expect(stat).toMatchObject({ uptime: 3_500, lastActivity: 0 })
    clock.now += 100
    p.touch(p.ids()[0] as string)
    clock.now += 10
    expect(p.getConnectionStats().connections[0]?.lastActivity).toBe(10)
  })
})

describe('ConnectionPool: broadcast', () => {
  it('encodes once and writes the same buffer to everyone but the excluded', async () => {
    const p = pool()
    const pairs = [await pair(), await pair(), await pair()]
    const ids = pairs.map(({ socket }) => p.addConnection(socket))
    const writes = pairs.map(({ socket }) => vi.spyOn(socket, 'write'))
    const result = p.broadcast('hello', ids[1])
    expect(result).toEqual({ sent: 2, skipped: 0, closed: 0 })
    expect(writes[1]).not.toHaveBeenCalled()
    const [first] = writes[0]?.mock.calls[0] ?? []
    const [third] = writes[2]?.mock.calls[0] ?? []
    expect(Buffer.isBuffer(first)).toBe(true)
    expect(third).toBe(first)
    expect((await received(pairs[0]?.client as Socket, 5)).toString()).toBe('hello')
    expect(p.broadcast(Buffer.from('x'), [ids[0] as string, ids[2] as string]).sent).toBe(1)
  })

  it("'skip' leaves a receiver over the cap out, and it catches up later", async () => {
    const p = pool({ maxBufferedBytes: 10, slowReader: 'skip' })
    const { socket } = await pair()
    const id = p.addConnection(socket)
    const slow: unknown[] = []
    p.on('slow', (...args) => slow.push(args))
    // Pretend 8 bytes are still queued for this receiver.
    Object.defineProperty(socket, 'writableLength', { value: 8, configurable: true })
    const write = vi.spyOn(socket, 'write')
    expect(p.broadcast('abc')).toEqual({ sent: 0, skipped: 1, closed: 0 })
    expect(write).not.toHaveBeenCalled()
    expect(slow).toEqual([[id, 'skip', 8]])
    expect(p.broadcast('ab')).toEqual({ sent: 1, skipped: 0, closed: 0 }) // 8 + 2 fits
    Object.defineProperty(socket, 'writableLength', { value: 0, configurable: true })
    // An empty buffer always takes the message, even one over the cap.
    expect(p.broadcast('x'.repeat(100)).sent).toBe(1)
    expect(p.counters.skippedSlow).toBe(1)
    expect(p.has(id)).toBe(true)
  })

  it("'close' (the default) destroys a receiver over the cap and removes it", async () => {
    const p = pool({ maxBufferedBytes: 10 })
    const { socket } = await pair()
    const id = p.addConnection(socket)
    const reasons: string[] = []
    p.on('remove', (_id, reason) => reasons.push(reason))
    Object.defineProperty(socket, 'writableLength', { value: 8, configurable: true })
    expect(p.broadcast('abc')).toEqual({ sent: 0, skipped: 0, closed: 1 })
    expect(socket.destroyed).toBe(true)
    expect(p.has(id)).toBe(false)
    expect(reasons).toEqual(['slow'])
    expect(p.counters.closedSlow).toBe(1)
  })

  it('skips destroyed sockets still waiting for their close event', async () => {
    const p = pool()
    const { socket } = await pair()
    p.addConnection(socket)
    socket.destroy()
    expect(p.broadcast('x')).toEqual({ sent: 0, skipped: 0, closed: 0 })
  })
})

describe('ConnectionPool: idle connections', () => {
  it('cleanup(maxIdleMs) closes idle connections and keeps active ones', async () => {
    const clock = { now: 0 }
    const p = pool({ now: () => clock.now })
    const idle = await pair()
    const active = await pair()
    const idleId = p.addConnection(idle.socket)
    const activeId = p.addConnection(active.socket)
    clock.now = 600
    active.client.write('still here')
    await received(active.socket, 10)
    p.getConnectionStats() // an observation, as a sweep would make
    clock.now = 1_001
    expect(p.cleanup(1_000)).toEqual([idleId])
    expect(idle.socket.destroyed).toBe(true)
    expect(p.ids()).toEqual([activeId])
    expect(p.counters.closedIdle).toBe(1)
  })

  it("a 'remove' listener that removes other connections does not make cleanup count twice", async () => {
    const clock = { now: 0 }
    const p = pool({ now: () => clock.now })
    const ids = [await pair(), await pair(), await pair()].map(({ socket }) =>
      p.addConnection(socket),
    )
    const events: string[] = []
    p.on('remove', (id, reason) => {
      events.push(`${id}:${reason}`)
      for (const other of p.ids()) p.removeConnection(other)
    })
    clock.now = 10_000
    expect(p.cleanup(1_000)).toEqual([ids[0]])
    expect(events).toEqual([`${ids[0]}:idle`, `${ids[1]}:removed`, `${ids[2]}:removed`])
    expect(p.counters.closedIdle).toBe(1)
    expect(p.size).toBe(0)
  })

  it("cleanup() defaults to the verb docs' 5 minutes", async () => {
    const clock = { now: 0 }
    const p = pool({ now: () => clock.now })
    p.addConnection((await pair()).socket)
    clock.now = 300_000
    expect(p.cleanup()).toEqual([])
    clock.now = 300_001
    expect(p.cleanup()).toHaveLength(1)
  })

  it('sweeps automatically on a timer (fake timers): the idle one goes, the active one stays', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] })
    const p = pool({ idleTimeoutMs: 1_000, sweepIntervalMs: 250 })
    const idle = await pair()
    const active = await pair()
    const idleId = p.addConnection(idle.socket)
    const activeId = p.addConnection(active.socket)
    const removed: unknown[] = []
    p.on('remove', (id, reason) => removed.push([id, reason]))
    vi.advanceTimersByTime(600)
    active.client.write('x')
    await received(active.socket, 1)
    vi.advanceTimersByTime(650) // t = 1250: the idle one has been idle for more than 1000 ms
    expect(removed).toEqual([[idleId, 'idle']])
    expect(p.ids()).toEqual([activeId])
    if (!idle.client.closed) await once(idle.client, 'close')
    vi.advanceTimersByTime(1_000) // the active one has gone quiet too
    expect(p.size).toBe(0)
    expect(p.counters.closedIdle).toBe(2)
  })

  it('its sweep timer is stopped by close()', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const p = pool({ idleTimeoutMs: 1_000 })
    expect(vi.getTimerCount()).toBe(1)
    p.close()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('does not keep the process alive (the sweep timer is unref-ed)', () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const before = timers()
    pool({ idleTimeoutMs: 1_000 })
    // getActiveResourcesInfo lists only timers that keep the event loop alive.
    expect(timers()).toBe(before)
  })
})

describe("ConnectionPool: the verb docs' usage", () => {
  it('addConnection, getConnectionStats, broadcast, removeConnection, cleanup', async () => {
    const pool = new ConnectionPool()
    defer(() => pool.close())
    const a = await pair()
    const b = await pair()
    const idA = pool.addConnection(a.socket)
    const idB = pool.addConnection(b.socket)
    expect(pool.getConnectionStats().total).toBe(2)
    pool.broadcast('hi all\n', idA)
    expect((await received(b.client, 7)).toString()).toBe('hi all\n')
    pool.removeConnection(idB)
    expect(pool.cleanup(300000)).toEqual([])
    expect(pool.getConnectionStats().connections.map((c) => c.id)).toEqual([idA])
  })
})
