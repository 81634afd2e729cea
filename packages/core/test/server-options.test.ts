// Every option of the verb docs' "Server Options" block, each observed on a real loopback connection,
// so that ignoring the option would fail its test.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createServer as netServer, Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it, vi } from 'vitest'
import { createServer } from '../src/server.ts'
import type { TCPSocket, TcpOptions } from '../src/types.ts'
import { defer, dial, kernelTimer, nextCall, readBytes, track } from './helpers.ts'

const run = promisify(execFile)

/** Starts a server with `tcp` options and resolves with its port and the first accepted socket. */
async function serve(tcp: TcpOptions = {}) {
  const accepted = nextCall<[TCPSocket]>()
  const app = track(createServer().withOptions({ tcp }).onConnection(accepted.fn))
  const { port } = await app.listen()
  return { app, port, accepted: accepted.called.then(([s]) => s) }
}

async function freePort(): Promise<number> {
  const probe = netServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  await new Promise((r) => probe.close(r))
  return port
}

describe('port and host', () => {
  it('listens on the port and host given in options', async () => {
    const port = await freePort()
    const app = track(createServer().withOptions({ port, host: '127.0.0.1' }))
    const address = await app.listen()
    expect(address).toMatchObject({ port, address: '127.0.0.1' })
    await dial(port)
  })

  it('lets listen() arguments beat the options', async () => {
    const port = await freePort()
    const app = track(createServer().withOptions({ port: 1, host: '0.0.0.0' }))
    expect(await app.listen(port, '127.0.0.1')).toMatchObject({ port, address: '127.0.0.1' })
  })

  it('binds to 127.0.0.1 and a free port when nothing is given', async () => {
    const address = await track(createServer()).listen()
    expect(address.address).toBe('127.0.0.1')
    expect(address.port).toBeGreaterThan(0)
  })

  it('listens on IPv6 loopback when asked', async (ctx) => {
    const app = track(createServer().withOptions({ host: '::1' }))
    const address = await app.listen().catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT') ctx.skip()
      throw err
    })
    expect(address).toMatchObject({ address: '::1', family: 'IPv6' })
    await dial(address.port, '::1')
  })
})

describe('backlog', () => {
  it('is the queue length the kernel reports for the listening socket', async (ctx) => {
    const app = track(createServer().withOptions({ tcp: { backlog: 37 } }))
    const { port } = await app.listen()
    const out = await run('ss', ['-ltnH', `sport = :${port}`]).catch(() => undefined)
    if (!out) return ctx.skip() // `ss` (iproute2) missing: CI installs it
    // For a listening socket, ss prints the backlog in the Send-Q column.
    const [, , sendQ] = out.stdout.trim().split(/\s+/)
    expect(Number(sendQ)).toBe(37)
  })

  it('defaults to 511', async (ctx) => {
    const { port } = await track(createServer()).listen()
    const out = await run('ss', ['-ltnH', `sport = :${port}`]).catch(() => undefined)
    if (!out) return ctx.skip()
    expect(Number(out.stdout.trim().split(/\s+/)[2])).toBe(511)
  })
})

describe('exclusive', () => {
  const fixture = fileURLToPath(new URL('./fixtures/cluster-exclusive.mjs', import.meta.url))
  const second = async (exclusive: boolean) => {
    const { stdout } = await run(process.execPath, [fixture, String(exclusive)], {
      timeout: 20_000,
    })
    return stdout.trim()
  }

  it('shares one port between cluster workers when false', async () => {
    expect(await second(false)).toBe('second worker: listening')
  })

  it('gives each cluster worker its own handle when true, so a second one cannot bind', async () => {
    expect(await second(true)).toBe('second worker: EADDRINUSE')
  })
})

describe('allowHalfOpen', () => {
  /** The client ends its side; the server answers after seeing 'end'. Does the answer arrive? */
  async function answerAfterEnd(allowHalfOpen: boolean) {
    const { port, accepted } = await serve({ allowHalfOpen })
    const client = await dial(port)
    const server = await accepted
    // Answer a turn after 'end': by then a socket without allowHalfOpen has ended itself.
    server.on('end', () =>
      setImmediate(() => {
        if (server.writable) server.end('late answer')
      }),
    )
    client.end()
    return { received: (await readBytes(client, 11)).toString(), server }
  }

  it('keeps the server side writable after the peer ends when true', async () => {
    const { received, server } = await answerAfterEnd(true)
    expect(server.allowHalfOpen).toBe(true)
    expect(received).toBe('late answer')
  })

  it('ends the server side as soon as the peer ends when false (the default)', async () => {
    const { received, server } = await answerAfterEnd(false)
    expect(server.allowHalfOpen).toBe(false)
    expect(received).toBe('')
  })
})

describe('pauseOnConnect', () => {
  it('hands over a paused socket that reads only after resume() when true', async () => {
    const { port, accepted } = await serve({ pauseOnConnect: true })
    const client = await dial(port)
    const server = await accepted
    expect(server.readableFlowing).toBe(false)
    const data = vi.fn()
    server.on('data', data)
    client.write('ping')
    // Adding a 'data' listener does not start a socket the server paused: nothing is read yet.
    await new Promise((r) => setImmediate(r))
    expect(server.readableFlowing).toBe(false)
    server.resume()
    await once(server, 'data')
    expect(Buffer.concat(data.mock.calls.map(([c]) => c)).toString()).toBe('ping')
  })

  it('hands over a socket that reads on its own when false (the default)', async () => {
    const { port, accepted } = await serve()
    const client = await dial(port)
    const server = await accepted
    expect(server.readableFlowing).not.toBe(false)
    client.write('ping')
    const [chunk] = await once(server, 'data')
    expect(String(chunk)).toBe('ping')
  })
})

describe('readableHighWaterMark and writableHighWaterMark', () => {
  it('sets each side separately, and write() turns false exactly at the writable mark', async () => {
    const { port, accepted } = await serve({
      readableHighWaterMark: 1234,
      writableHighWaterMark: 4321,
    })
    await dial(port)
    const server = await accepted
    expect(server.readableHighWaterMark).toBe(1234)
    expect(server.writableHighWaterMark).toBe(4321)
    // Corked, the kernel takes nothing, so every written byte counts against the mark.
    server.cork()
    expect(server.write(Buffer.alloc(4320))).toBe(true)
    expect(server.write(Buffer.alloc(1))).toBe(false)
  })

  it('stops reading from the kernel once a paused socket holds the readable mark', async () => {
    const { port, accepted } = await serve({ readableHighWaterMark: 1024, pauseOnConnect: true })
    const client = await dial(port)
    const server = await accepted
    client.write(Buffer.alloc(256 * 1024))
    // read(0) pulls from the kernel until the buffer reaches the mark, then stops.
    server.read(0)
    await once(server, 'readable')
    expect(server.readableLength).toBeGreaterThan(0)
    expect(server.readableLength).toBeLessThan(256 * 1024)
  })
})

describe('keepAlive and keepAliveInitialDelay', () => {
  async function timerOf(tcp: TcpOptions) {
    const { port, accepted } = await serve(tcp)
    await dial(port)
    const server = await accepted
    return kernelTimer(server.localPort as number, server.remotePort as number)
  }

  it('arms the kernel keep-alive timer with the initial delay', async (ctx) => {
    const timer = await timerOf({ keepAlive: true, keepAliveInitialDelay: 5_000 })
    if (!timer) return ctx.skip() // no /proc/net/tcp (not Linux)
    expect(timer.active).toBe(2)
    expect(timer.ticks).toBeGreaterThan(0)
    expect(timer.ticks).toBeLessThanOrEqual(500)
  })

  it('is on by default with a 60 s delay', async (ctx) => {
    const timer = await timerOf({})
    if (!timer) return ctx.skip()
    expect(timer.active).toBe(2)
    expect(timer.ticks).toBeGreaterThan(500)
    expect(timer.ticks).toBeLessThanOrEqual(6_000)
  })

  it('leaves the kernel timer off when false', async (ctx) => {
    const timer = await timerOf({ keepAlive: false })
    if (!timer) return ctx.skip()
    expect(timer.active).toBe(0)
  })
})

describe('noDelay', () => {
  // Node offers no getter for TCP_NODELAY and the kernel does not list it, so the test watches
  // the call that sets it on the accepted socket.
  async function noDelayOf(tcp: TcpOptions) {
    const spy = vi.spyOn(Socket.prototype, 'setNoDelay')
    defer(() => spy.mockRestore())
    const { port, accepted } = await serve(tcp)
    await dial(port)
    const server = await accepted
    const calls = spy.mock.calls.filter((_, i) => spy.mock.contexts[i] === server)
    return calls.at(-1)?.[0]
  }

  it('disables Nagle on accepted sockets by default', async () => {
    expect(await noDelayOf({})).toBe(true)
  })

  it('leaves Nagle on when false', async () => {
    expect(await noDelayOf({ noDelay: false })).toBe(false)
  })
})

describe('timeout', () => {
  it('destroys a connection idle for longer than timeout', async () => {
    const { port, accepted } = await serve({ timeout: 30 })
    const client = await dial(port)
    const server = await accepted
    expect(server.timeout).toBe(30)
    await once(client, 'close')
    expect(server.destroyed).toBe(true)
  })

  it('keeps an idle connection whose onTimeout handler returns true, re-arming the timer', async () => {
    let timeouts = 0
    const twice = nextCall<[]>()
    const { port, accepted } = await serve({
      timeout: 20,
      onTimeout: () => {
        timeouts++
        if (timeouts === 2) twice.fn()
        return true
      },
    })
    const client = await dial(port)
    await twice.called
    const server = await accepted
    expect(server.destroyed).toBe(false)
    client.write('still here')
    expect(String((await once(server, 'data'))[0])).toBe('still here')
  })

  it('destroys when no onTimeout handler returns true', async () => {
    const seen = nextCall<[TCPSocket]>()
    const { port, accepted } = await serve({ timeout: 20, onTimeout: seen.fn })
    const client = await dial(port)
    const [socket] = await seen.called
    expect(socket).toBe(await accepted)
    await once(client, 'close')
  })

  it('defaults to 300000 ms and is off with 0', async () => {
    const a = await serve()
    await dial(a.port)
    expect((await a.accepted).timeout).toBe(300_000)
    const b = await serve({ timeout: 0 })
    await dial(b.port)
    expect((await b.accepted).timeout ?? 0).toBe(0)
  })
})
