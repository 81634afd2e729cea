import { once } from 'node:events'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { backoffDelay, DEFAULT_RETRY, resolveRetry } from '../src/backoff.ts'
import { connect, type ReconnectingClient } from '../src/client.ts'
import { createServer } from '../src/server.ts'
import { until } from '../src/testing.ts'
import type { TCPSocket } from '../src/types.ts'
import { defer, fixture, nextCall, track } from './helpers.ts'

/** A port with nothing listening: connections to it are refused at once. */
async function deadPort(): Promise<number> {
  const app = createServer()
  const { port } = await app.listen()
  await app.close()
  return port
}

function client(options: Parameters<typeof connect>[0]): ReconnectingClient {
  const c = connect(options)
  defer(() => c.close())
  return c
}

describe('backoffDelay', () => {
  const none = { ...DEFAULT_RETRY, jitter: 'none' as const }

  it("doubles from 1000 ms by default, as the verb docs' client does", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, none))).toEqual([
      1000, 2000, 4000, 8000, 16000,
    ])
  })

  it('is capped by maxDelay', () => {
    const r = { ...none, maxDelay: 3000 }
    expect([1, 2, 3, 10, 60].map((n) => backoffDelay(n, r))).toEqual([1000, 2000, 3000, 3000, 3000])
  })

  it('with full jitter draws uniformly from [0, cap]', () => {
    const random = vi.spyOn(Math, 'random')
    random.mockReturnValue(0)
    expect(backoffDelay(3, DEFAULT_RETRY)).toBe(0)
    random.mockReturnValue(0.5)
    expect(backoffDelay(3, DEFAULT_RETRY)).toBe(2000)
    random.mockReturnValue(0.999999999)
    expect(backoffDelay(3, DEFAULT_RETRY)).toBe(4000)
    random.mockRestore()
  })

  it('validates the retry options', () => {
    expect(resolveRetry(undefined)).toEqual(DEFAULT_RETRY)
    const range = (message: RegExp) =>
      expect.objectContaining({
        name: 'RangeError',
        code: 'ERR_OUT_OF_RANGE',
        message: expect.stringMatching(message),
      })
    const value = (message: RegExp) =>
      expect.objectContaining({
        name: 'TypeError',
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringMatching(message),
      })
    expect(() => resolveRetry({ baseDelay: -1 })).toThrow(range(/baseDelay/))
    expect(() => resolveRetry({ factor: 0.5 })).toThrow(range(/factor/))
    expect(() => resolveRetry({ maxAttempts: -1 })).toThrow(range(/maxAttempts/))
    expect(resolveRetry({ maxAttempts: Infinity }).maxAttempts).toBe(Infinity)
    expect(() => resolveRetry({ jitter: 'half' as never })).toThrow(value(/jitter/))
    expect(() => resolveRetry({ tries: 3 } as never)).toThrow(value(/tries/))
    expect(() => connect({ port: 0 })).toThrow(range(/port/))
    expect(() => connect({ port: 1, connectTimout: 5 } as never)).toThrow(value(/connectTimout/))
    expect(() => connect({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    )
  })
})

describe('ReconnectingClient schedule (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    vi.spyOn(Math, 'random').mockReturnValue(0.5)
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.restoreAllMocks()
  })

  it('retries with jittered exponential backoff, then gives up after maxAttempts', async () => {
    const port = await deadPort()
    const c = client({ port, retry: { maxAttempts: 6 } })
    const delays: number[] = []
    const gaveUp = nextCall<[Error]>()
    c.on('give-up', gaveUp.fn)
    // The first attempt and 5 retries: 6 attempts.
    for (let attempt = 1; attempt <= 5; attempt++) {
      const [info] = await once(c, 'reconnecting')
      expect(info.attempt).toBe(attempt)
      expect(info.error.code).toBe('ECONNREFUSED')
      delays.push(info.delay)
      vi.advanceTimersByTime(info.delay)
    }
    const [error] = await gaveUp.called
    // Math.random() = 0.5: half of 1000, 2000, 4000, 8000, 16000 (rounded down, +1 for inclusivity).
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000])
    expect(error).toMatchObject({ name: 'VerbTcpError', code: 'ERR_RECONNECT_GAVE_UP', limit: 6 })
    expect(error.message).toMatch(/after 6 failed attempts/)
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
    expect(c.closed).toBe(true)
    await expect(c.ready()).rejects.toMatchObject({
      name: 'VerbTcpError',
      code: 'ERR_CLIENT_CLOSED',
    })
  })

  it('stops retrying on close(): no attempt runs after it', async () => {
    const port = await deadPort()
    const c = client({ port, retry: { maxAttempts: Number.POSITIVE_INFINITY } })
    const [info] = await once(c, 'reconnecting')
    const reconnecting = vi.fn()
    c.on('reconnecting', reconnecting)
    const waiting = c.ready()
    await c.close()
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CLIENT_CLOSED' })
    vi.advanceTimersByTime(info.delay * 10)
    await new Promise((r) => setImmediate(r))
    expect(reconnecting).not.toHaveBeenCalled()
    expect(vi.getTimerCount()).toBe(0)
  })

  it('reconnects after the server drops it, and resets the attempt count', async () => {
    const sockets: TCPSocket[] = []
    const app = track(createServer().onConnection((s) => void sockets.push(s)))
    const { port } = await app.listen()
    const c = client({ port })
    const [first] = await once(c, 'connect')
    expect(c.connected).toBe(true)
    await vi.waitFor(() => expect(sockets).toHaveLength(1))
    const disconnected = once(c, 'disconnect')
    const reconnecting = once(c, 'reconnecting')
    sockets[0]?.destroy()
    await disconnected
    expect(c.socket).toBeUndefined()
    const [info] = await reconnecting
    expect(info).toMatchObject({ attempt: 1, delay: 500 })
    const back = once(c, 'reconnected')
    vi.advanceTimersByTime(info.delay)
    const [second] = await back
    expect(second).not.toBe(first)
    expect(await c.ready()).toBe(second)
    // A later drop starts again from attempt 1.
    const again = once(c, 'reconnecting')
    await vi.waitFor(() => expect(sockets).toHaveLength(2))
    sockets[1]?.destroy()
    expect((await again)[0].attempt).toBe(1)
  })
})

describe('ReconnectingClient over real sockets', () => {
  it('connects over TLS and hands each connection to connect listeners', async () => {
    const key = fixture('key.pem')
    const cert = fixture('cert.pem')
    const app = track(
      createServer('tls')
        .withOptions({ tcp: { tls: { key, cert } } })
        .onConnection((s) => s.end('hi')),
    )
    const { port } = await app.listen()
    const c = client({ port, tls: { ca: cert, servername: 'localhost' } })
    const socket = await c.ready()
    expect((await once(socket, 'data'))[0].toString()).toBe('hi')
  })

  it('counts an attempt that does not connect within connectTimeout as failed', async () => {
    // A listener that never accepts would need a full backlog; instead, a TLS client against a
    // plain server never sees 'secureConnect', which the timeout must catch the same way.
    const app = track(createServer())
    const { port } = await app.listen()
    const c = client({ port, tls: true, connectTimeout: 50, retry: { maxAttempts: 0 } })
    const [error] = await once(c, 'give-up')
    expect(error.cause.code).toBe('ETIMEDOUT')
  })
})

describe('ReconnectingClient maxAttempts: connection attempts that fail in a row', () => {
  // Each 'reconnecting' event schedules exactly one new attempt, so attempts are counted as the
  // first one plus those events (after a drop: those events alone).
  const fast = { baseDelay: 1, maxDelay: 1, jitter: 'none' as const }

  it('with no server, maxAttempts: 5 makes 5 attempts, then gives up after 5', async () => {
    const port = await deadPort()
    const c = client({ port, retry: { ...fast, maxAttempts: 5 } })
    const retries: number[] = []
    c.on('reconnecting', ({ attempt }) => retries.push(attempt))
    const [error] = await once(c, 'give-up')
    expect(1 + retries.length).toBe(5)
    expect(retries).toEqual([1, 2, 3, 4])
    expect(error).toMatchObject({ code: 'ERR_RECONNECT_GAVE_UP', limit: 5 })
    expect(error.message).toMatch(/after 5 failed attempts in a row/)
  })

  it('after a drop, maxAttempts: 5 makes 5 attempts, then gives up after 5', async () => {
    const app = createServer().onConnection((s) => s.destroy())
    const { port } = await app.listen()
    const c = client({ port, retry: { ...fast, maxAttempts: 5 } })
    await once(c, 'connect')
    // Nothing listens any more: the drop is followed by refused attempts only.
    await app.close({ gracePeriod: 0 })
    const retries: number[] = []
    c.on('reconnecting', ({ attempt }) => retries.push(attempt))
    const [error] = await once(c, 'give-up')
    expect(retries).toEqual([1, 2, 3, 4, 5])
    expect(error).toMatchObject({ code: 'ERR_RECONNECT_GAVE_UP', limit: 5 })
    expect(error.message).toMatch(/after 5 failed attempts in a row/)
  })

  it('with maxAttempts: 1, a failed first connection is not retried', async () => {
    const port = await deadPort()
    const c = client({ port, retry: { ...fast, maxAttempts: 1 } })
    const reconnecting = vi.fn()
    c.on('reconnecting', reconnecting)
    const [error] = await once(c, 'give-up')
    expect(reconnecting).not.toHaveBeenCalled()
    expect(error.message).toMatch(/after 1 failed attempt in a row/)
  })
})

describe('ReconnectingClient close() with unread data', () => {
  // With timers faked, close()'s 5 s fallback can never fire: close() must finish through the
  // connection itself.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('finishes against a server that greets and is never read', async () => {
    const app = track(createServer().onConnection((s) => s.write('Welcome to TCP server!\n')))
    const { port } = await app.listen()
    const c = connect({ port })
    const socket = await c.ready()
    await vi.waitFor(() => expect(socket.readableLength).toBeGreaterThan(0))
    await c.close()
    expect(socket.destroyed).toBe(true)
    expect(c.closed).toBe(true)
  })

  it('finishes against a server that floods it', async () => {
    let blocked = false
    const app = track(
      createServer().onConnection((s) => {
        const chunk = Buffer.alloc(64 * 1024, 1)
        const flood = () => {
          while (!s.writableEnded && !s.destroyed && s.write(chunk)) {}
          blocked = true
        }
        s.on('drain', flood)
        flood()
      }),
    )
    const { port } = await app.listen()
    const c = connect({ port })
    const socket = await c.ready()
    await vi.waitFor(() => expect(blocked).toBe(true))
    await c.close()
    expect(socket.destroyed).toBe(true)
  })

  it('abandons an attempt in progress', async () => {
    const app = track(createServer())
    const { port } = await app.listen()
    const c = connect({ port })
    await c.close()
    const reconnecting = vi.fn()
    c.on('reconnecting', reconnecting)
    await expect(c.ready()).rejects.toMatchObject({ code: 'ERR_CLIENT_CLOSED' })
    await until(() => app.connections.size === 0)
    expect(reconnecting).not.toHaveBeenCalled()
  })
})
