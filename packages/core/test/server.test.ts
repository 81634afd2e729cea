import { once } from 'node:events'
import { Socket } from 'node:net'
import { describe, expect, it, vi } from 'vitest'
import { isProtocolError } from '../src/errors.ts'
import { createServer } from '../src/server.ts'
import { turns } from '../src/testing.ts'
import type { TCPSocket } from '../src/types.ts'
import { defer, dial, nextCall, readBytes, track } from './helpers.ts'

describe('listen', () => {
  it('binds before returning for an IP host, so address() works on the next line', async () => {
    const app = track(createServer())
    const listening = app.listen(0, '127.0.0.1')
    const address = app.address()
    expect(address?.port).toBeGreaterThan(0)
    expect(await listening).toEqual(address)
    expect(app.listening).toBe(true)
  })

  it('resolves a hostname too', async () => {
    const address = await track(createServer()).listen(0, 'localhost')
    expect(address.port).toBeGreaterThan(0)
  })

  it('rejects with EADDRINUSE on a busy port instead of hanging', async () => {
    const { port } = await track(createServer()).listen()
    const second = track(createServer())
    await expect(second.listen(port)).rejects.toMatchObject({ code: 'EADDRINUSE' })
    expect(second.address()).toBeNull()
    // The failed server can try again elsewhere.
    expect((await second.listen(0)).port).toBeGreaterThan(0)
  })

  it('reports a failed listen once: to an awaiting caller, not also to onError', async () => {
    const { port } = await track(createServer()).listen()
    const onError = vi.fn()
    const app = track(createServer().onError(onError))
    await expect(app.listen(port)).rejects.toMatchObject({ code: 'EADDRINUSE' })
    expect(onError).not.toHaveBeenCalled()
  })

  it('reports an un-awaited failed listen to onError, and it cannot crash the process', async () => {
    const { port } = await track(createServer()).listen()
    const seen = nextCall<[Error]>()
    const rejections: unknown[] = []
    const onRejection = (r: unknown) => rejections.push(r)
    process.on('unhandledRejection', onRejection)
    defer(() => process.off('unhandledRejection', onRejection))
    void track(createServer().onError(seen.fn)).listen(port)
    const [error] = await seen.called
    expect((error as NodeJS.ErrnoException).code).toBe('EADDRINUSE')
    // An unhandled rejection is reported within a turn or two of the one that rejected.
    await turns(20)
    expect(rejections).toEqual([])
  })

  it('refuses a second listen while running', async () => {
    const app = track(createServer())
    await app.listen()
    const err = await app.listen().catch((e: unknown) => e)
    // A state error, not something a peer sent.
    expect(err).toMatchObject({ name: 'VerbTcpError', code: 'ERR_SERVER_STATE' })
    expect(isProtocolError(err)).toBe(false)
  })

  it('validates listen arguments with Node-style coded errors', () => {
    expect(() => createServer().listen(-1)).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
    )
    expect(() => createServer().listen(80, '')).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }),
    )
  })

  it('calls onListening handlers from options and shortcuts, with the address', async () => {
    const fromOptions = vi.fn()
    const fromShortcut = vi.fn()
    const app = track(createServer().withOptions({ tcp: { onListening: fromOptions } }))
    app.onListening(fromShortcut)
    const address = await app.listen()
    expect(fromOptions).toHaveBeenCalledWith(address)
    expect(fromShortcut).toHaveBeenCalledWith(address)
  })

  it('needs TLS options for a TLS server', async () => {
    await expect(createServer('tls').listen()).rejects.toThrow(/tcp\.tls/)
  })
})

describe('connections', () => {
  it('hands the real net.Socket to every onConnection handler, options first', async () => {
    const order: string[] = []
    const seen = nextCall<[TCPSocket]>()
    const app = track(
      createServer().withOptions({ tcp: { onConnection: () => void order.push('options') } }),
    )
    app
      .onConnection(() => void order.push('first'))
      .onConnection((s) => {
        order.push('second')
        seen.fn(s)
      })
    const { port } = await app.listen()
    const client = await dial(port)
    const [socket] = await seen.called
    expect(socket).toBeInstanceOf(Socket)
    expect(order).toEqual(['options', 'first', 'second'])
    expect(socket.remoteAddress).toBe('127.0.0.1')
    expect(socket.remotePort).toBe(client.localPort)
  })

  it('tracks live connections in app.connections', async () => {
    const app = track(createServer())
    const { port } = await app.listen()
    const a = await dial(port)
    await dial(port)
    await vi.waitFor(() => expect(app.connections.size).toBe(2))
    expect([...app.connections].every((s) => s instanceof Socket)).toBe(true)
    const gone = [...app.connections].find((s) => s.remotePort === a.localPort) as TCPSocket
    a.destroy()
    await once(gone, 'close')
    expect(app.connections.size).toBe(1)
  })

  it('supports what the verb docs do with a socket: write, data, end, setEncoding, destroy', async () => {
    const app = track(
      createServer().onConnection((socket) => {
        socket.setEncoding('utf8')
        socket.setKeepAlive(true, 1000)
        socket.setNoDelay(true)
        socket.setTimeout(60_000)
        socket.write('Welcome to TCP server!\n')
        socket.on('data', (data) => socket.write(`Echo: ${data}`))
        socket.on('end', () => socket.destroy())
      }),
    )
    const { port } = await app.listen()
    const client = await dial(port)
    expect((await readBytes(client, 23)).toString()).toBe('Welcome to TCP server!\n')
    client.end('hi')
    expect((await readBytes(client, 8)).toString()).toBe('Echo: hi')
  })
})

describe('onAdmit', () => {
  it('refuses a connection before onConnection: the notice arrives, then the end', async () => {
    const onConnection = vi.fn()
    let n = 0
    const app = track(
      createServer()
        .onAdmit((socket) => {
          if (++n === 1) return true
          socket.write('server full\n')
          return false
        })
        .onConnection(onConnection),
    )
    const { port } = await app.listen()
    await dial(port)
    await vi.waitFor(() => expect(onConnection).toHaveBeenCalledTimes(1))
    const refused = await dial(port)
    expect((await readBytes(refused, 100)).toString()).toBe('server full\n')
    await once(refused, 'close')
    expect(onConnection).toHaveBeenCalledTimes(1)
    expect(app.connections.size).toBe(1)
  })

  it('treats a throwing admission check as a refusal reported to onError', async () => {
    const seen = nextCall<[Error, TCPSocket | undefined]>()
    const onConnection = vi.fn()
    const app = track(
      createServer()
        .withOptions({
          tcp: {
            onAdmit: () => {
              throw new Error('gate broke')
            },
          },
        })
        .onConnection(onConnection)
        .onError(seen.fn),
    )
    const { port } = await app.listen()
    const client = await dial(port)
    const [error, socket] = await seen.called
    expect(error.message).toBe('gate broke')
    expect(socket).toBeDefined()
    await once(client, 'close')
    expect(onConnection).not.toHaveBeenCalled()
  })
  it('offAdmit removes a check: later connections are admitted', async () => {
    const onConnection = vi.fn()
    const refuse = () => false
    const app = track(createServer().onAdmit(refuse).onConnection(onConnection))
    expect(app.offAdmit(refuse)).toBe(true)
    expect(app.offAdmit(refuse)).toBe(false)
    const { port } = await app.listen()
    await dial(port)
    await vi.waitFor(() => expect(onConnection).toHaveBeenCalledTimes(1))
  })
})

describe('a failing application handler', () => {
  it('goes to onError with its socket, ends only that socket, and the server keeps serving', async () => {
    const seen = nextCall<[Error, TCPSocket | undefined]>()
    let calls = 0
    const app = track(
      createServer()
        .onConnection((socket) => {
          if (++calls === 1) throw new Error('boom')
          socket.write('ok')
        })
        .onError(seen.fn),
    )
    const { port } = await app.listen()
    const first = await dial(port)
    const [error, socket] = await seen.called
    expect(error.message).toBe('boom')
    expect(socket).toBeDefined()
    await once(first, 'close')
    const second = await dial(port)
    expect((await readBytes(second, 2)).toString()).toBe('ok')
  })

  it('treats a rejected async handler the same way', async () => {
    const seen = nextCall<[Error, TCPSocket | undefined]>()
    const app = track(
      createServer()
        .onConnection(async () => {
          await Promise.resolve()
          throw new Error('later')
        })
        .onError(seen.fn),
    )
    const { port } = await app.listen()
    const client = await dial(port)
    const [error] = await seen.called
    expect(error.message).toBe('later')
    await once(client, 'close')
  })

  it('stops calling later onConnection handlers for a socket destroyed by an earlier one', async () => {
    const later = vi.fn()
    const failed = nextCall<[Error]>()
    const app = track(
      createServer()
        .onConnection(() => {
          throw new Error('first')
        })
        .onConnection(later)
        .onError(failed.fn),
    )
    const { port } = await app.listen()
    await dial(port)
    await failed.called
    expect(later).not.toHaveBeenCalled()
  })

  it('becomes a process warning, not a crash, when there is no onError', async () => {
    // Caught at process.emitWarning, so the test run does not print it.
    const warned = catchWarning()
    const app = track(
      createServer().onConnection(() => {
        throw new Error('unheard')
      }),
    )
    const { port } = await app.listen()
    const client = await dial(port)
    const [warning, options] = await warned.called
    expect(warning.message).toBe('unheard')
    expect(options).toEqual({ code: 'VERB_TCP_UNHANDLED_ERROR' })
    await once(client, 'close')
  })

  it('survives an onError handler that throws too', async () => {
    const warned = catchWarning()
    const app = track(
      createServer()
        .onConnection(() => {
          throw new Error('first')
        })
        .onError(() => {
          throw new Error('second')
        }),
    )
    const { port } = await app.listen()
    await dial(port)
    const [warning, options] = await warned.called
    expect(warning.message).toBe('second')
    expect(options).toEqual({ code: 'VERB_TCP_ERROR_HANDLER_THREW' })
  })
})

/** The next `process.emitWarning` call, kept from Node's default printing until the test ends. */
function catchWarning() {
  const warned = nextCall<[Error, unknown]>()
  const spy = vi
    .spyOn(process, 'emitWarning')
    .mockImplementation(((error: Error, options: unknown) => warned.fn(error, options)) as never)
  defer(() => spy.mockRestore())
  return warned
}

describe('socket errors', () => {
  it('never crash the process for want of a listener, and reach onError with the socket', async () => {
    const seen = nextCall<[Error, TCPSocket | undefined]>()
    const accepted = nextCall<[TCPSocket]>()
    const app = track(createServer().onConnection(accepted.fn).onError(seen.fn))
    const { port } = await app.listen()
    const client = await dial(port)
    const [server] = await accepted.called
    // Unread data at close makes the kernel send RST, which the server reads as ECONNRESET.
    server.write(Buffer.alloc(1))
    client.resetAndDestroy()
    const [error, socket] = await seen.called
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNRESET')
    expect(socket).toBe(server)
  })
})

describe('close', () => {
  it('resolves with zero counts when the server never listened', async () => {
    expect(await createServer().close()).toEqual({ closed: 0, forced: 0 })
  })

  it('stops accepting at once, notifies live connections, waits, then forces the rest', async () => {
    const onClose = vi.fn()
    const app = createServer().onClose(onClose)
    const { port } = await app.listen()
    const polite = await dial(port)
    // Reads (so it sees the server's FIN) but never leaves by itself.
    const stubborn = (await dial(port)).resume()
    const stubbornClosed = once(stubborn, 'close')
    await vi.waitFor(() => expect(app.connections.size).toBe(2))
    // The polite client leaves when told; the stubborn one ignores the notice.
    polite.on('data', () => polite.end())
    const notified: TCPSocket[] = []
    const closing = app.close({
      gracePeriod: 200,
      notify: (socket) => {
        notified.push(socket)
        socket.write(JSON.stringify({ type: 'server_shutdown' }))
      },
    })
    expect(notified).toHaveLength(2)
    expect(app.listening).toBe(false)
    // A new client is refused while the old ones are still being waited for.
    const late = new Socket().on('error', () => {})
    defer(() => late.destroy())
    late.connect(port, '127.0.0.1')
    expect(((await once(late, 'error'))[0] as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
    expect(await closing).toEqual({ closed: 1, forced: 1 })
    await stubbornClosed
    expect(onClose).toHaveBeenCalledTimes(1)
    expect(app.connections.size).toBe(0)
    expect(app.address()).toBeNull()
  })

  it('returns the same promise when called again, and a shorter grace period forces at once', async () => {
    const app = createServer()
    const { port } = await app.listen()
    await dial(port)
    await vi.waitFor(() => expect(app.connections.size).toBe(1))
    const first = app.close({ gracePeriod: 60_000 })
    const second = app.close({ gracePeriod: 0 })
    expect(second).toBe(first)
    expect(await first).toEqual({ closed: 0, forced: 1 })
  })

  it('treats a grace period beyond what a timer can count as waiting, not as now', async () => {
    const app = createServer()
    const { port } = await app.listen()
    const client = await dial(port)
    await vi.waitFor(() => expect(app.connections.size).toBe(1))
    const [accepted] = app.connections
    const closing = app.close({ gracePeriod: 2 ** 40 })
    // Node runs a timer over 2^31 - 1 ms after 1 ms instead: had close() set one, it would fire
    // before this 1 ms timer, set after it (timers run in order of expiry, then of creation).
    await new Promise((resolve) => setTimeout(resolve, 1))
    expect(accepted?.destroyed).toBe(false)
    expect(client.destroyed).toBe(false)
    client.end()
    expect(await closing).toEqual({ closed: 1, forced: 0 })
  })

  it('can listen again after closing', async () => {
    const app = track(createServer())
    await app.listen()
    await app.close()
    expect((await app.listen()).port).toBeGreaterThan(0)
  })

  it('rejects a negative grace period', () => {
    expect(() => createServer().close({ gracePeriod: -1 })).toThrow(
      expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
    )
  })
})

describe('handleSignals', () => {
  it('closes gracefully on SIGTERM, then exits with code 0', async () => {
    const exit = nextCall<[number, unknown]>()
    const notify = vi.fn()
    const app = track(createServer())
    const { port } = await app.listen()
    const client = await dial(port)
    client.on('data', () => client.end())
    await vi.waitFor(() => expect(app.connections.size).toBe(1))
    app.handleSignals({
      exit: exit.fn,
      notify: (s) => {
        notify()
        s.write('bye')
      },
    })
    process.emit('SIGTERM', 'SIGTERM')
    expect(await exit.called).toEqual([0, { closed: 1, forced: 0 }])
    expect(notify).toHaveBeenCalledTimes(1)
    expect(app.listening).toBe(false)
    expect(process.listenerCount('SIGTERM')).toBe(0)
  })

  it('removes its listeners when the server is closed directly', async () => {
    const app = createServer()
    await app.listen()
    const before = process.listenerCount('SIGINT')
    app.handleSignals({ exit: () => {} })
    expect(process.listenerCount('SIGINT')).toBe(before + 1)
    await app.close()
    expect(process.listenerCount('SIGINT')).toBe(before)
  })

  it('forces the remaining connections at once on a second signal', async () => {
    const exit = nextCall<[number, unknown]>()
    const onSignal = vi.fn()
    const onClose = vi.fn()
    const app = track(createServer().onClose(onClose))
    const { port } = await app.listen()
    await dial(port)
    await vi.waitFor(() => expect(app.connections.size).toBe(1))
    app.handleSignals({ exit: exit.fn, gracePeriod: 60_000, onSignal })
    process.emit('SIGINT', 'SIGINT')
    process.emit('SIGINT', 'SIGINT')
    expect(await exit.called).toEqual([0, { closed: 0, forced: 1 }])
    expect(onSignal.mock.calls).toEqual([
      ['SIGINT', 'graceful'],
      ['SIGINT', 'force'],
    ])
    expect(onClose).toHaveBeenCalledTimes(1)
  })
})
