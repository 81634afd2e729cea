import { once } from 'node:events'
import type { TCPSocket } from '@verb-tcp/core'
import { describe, expect, it, vi } from 'vitest'
import { ECHO_PREFIX, GOODBYE, GREETING, sayGoodbye } from '../src/echo.ts'
import { Client, captureLogger, startDemoServer } from './helpers.ts'

const greeting = Buffer.from(GREETING)
const echoOf = (data: Buffer | string) => Buffer.concat([ECHO_PREFIX, Buffer.from(data)])

describe('demo server', () => {
  it('greets each client as it connects', async () => {
    const { port } = await startDemoServer()
    const client = await Client.connect(port)
    expect(await client.bytes(greeting.length)).toEqual(greeting)
  })

  it('echoes a chunk prefixed with "Echo: "', async () => {
    const { port } = await startDemoServer()
    const client = await Client.connect(port)
    await client.bytes(greeting.length)
    client.socket.write('hello\n')
    const expected = Buffer.concat([greeting, echoOf('hello\n')])
    expect(await client.bytes(expected.length)).toEqual(expected)
  })

  it('echoes the exact bytes of a UTF-8 character split across two chunks', async () => {
    const { port } = await startDemoServer()
    const client = await Client.connect(port)
    await client.bytes(greeting.length)
    const emoji = Buffer.from('😀') // f0 9f 98 80
    expect(emoji).toHaveLength(4)
    const [head, tail] = [emoji.subarray(0, 2), emoji.subarray(2)]

    // The second half is sent only once the first has been echoed, so the server sees two chunks.
    client.socket.write(head)
    await client.bytes(greeting.length + ECHO_PREFIX.length + 2)
    client.socket.write(tail)
    const expected = Buffer.concat([greeting, echoOf(head), echoOf(tail)])
    const received = await client.bytes(expected.length)

    // Decoding each chunk on its own (the verb docs' `Echo: ${data}`) would have sent U+FFFD (ef bf bd).
    expect(received).toEqual(expected)
    expect(received.includes(Buffer.from([0xef, 0xbf, 0xbd]))).toBe(false)
  })

  it('keeps serving other clients while one stays idle', async () => {
    const { app, port } = await startDemoServer()
    const idle = await Client.connect(port)
    await idle.bytes(greeting.length)
    const active = await Client.connect(port)
    await active.bytes(greeting.length)
    await vi.waitFor(() => expect(app.connections.size).toBe(2))

    for (const word of ['one', 'two', 'three']) {
      const before = active.received.length
      active.socket.write(word)
      await active.bytes(before + ECHO_PREFIX.length + word.length)
    }
    expect(active.received).toEqual(
      Buffer.concat([greeting, echoOf('one'), echoOf('two'), echoOf('three')]),
    )
    expect(idle.received).toEqual(greeting)
    expect(idle.socket.destroyed).toBe(false)
  })

  it('stops reading from a client that does not read its echoes, and loses no byte', async () => {
    const { app, port } = await startDemoServer()
    const served: TCPSocket[] = []
    app.onConnection((socket) => {
      served.push(socket)
    })
    const slow = await Client.connect(port)
    slow.socket.pause() // reads nothing: its receive buffer fills, then the server's send buffer
    await vi.waitFor(() => expect(served).toHaveLength(1))
    const server = served[0] as TCPSocket

    // No "E" in the payload, so the echoes can be told apart from the prefixes afterwards.
    const payload = Buffer.alloc(32 * 1024 * 1024, 'x')
    slow.socket.end(payload)
    await vi.waitFor(() => expect(server.isPaused()).toBe(true), { timeout: 10_000, interval: 20 })
    expect(server.writableLength).toBeLessThan(payload.length)

    // Another client is served meanwhile.
    const other = await Client.connect(port)
    other.socket.write('ping')
    const expected = Buffer.concat([greeting, echoOf('ping')])
    expect(await other.bytes(expected.length)).toEqual(expected)

    // Once the slow client reads, everything comes back, then the server ends the connection.
    slow.socket.resume()
    const received = await slow.untilClosed()
    expect(received.subarray(0, greeting.length)).toEqual(greeting)
    const echoed = received.subarray(greeting.length).toString('latin1').split('Echo: ')
    expect(echoed[0]).toBe('')
    expect(echoed.join('')).toBe(payload.toString('latin1'))
  }, 20_000)

  it('logs each connection with its remote address and port, and its close', async () => {
    const { logger, lines } = captureLogger()
    const { port } = await startDemoServer(logger)
    const client = await Client.connect(port)
    const { localPort } = client.socket
    await client.bytes(greeting.length)
    client.socket.end('bye')
    await client.untilClosed()
    await vi.waitFor(() => expect(lines.map((l) => l.msg)).toContain('client disconnected'))

    const connected = lines.find((l) => l.msg === 'client connected')
    expect(connected).toMatchObject({
      level: 30,
      remoteAddress: '127.0.0.1',
      remotePort: localPort,
    })
    const closed = lines.find((l) => l.msg === 'client disconnected')
    expect(closed).toMatchObject({
      level: 30,
      remotePort: localPort,
      bytesRead: 3,
      bytesWritten: greeting.length + echoOf('bye').length,
      hadError: false,
    })
    expect(lines.find((l) => l.msg === 'echo')).toMatchObject({ level: 20, bytes: 3 })
  })

  it('logs a connection error at warn', async () => {
    const { logger, lines } = captureLogger()
    const { port } = await startDemoServer(logger)
    const client = await Client.connect(port)
    await client.bytes(greeting.length)
    client.socket.resetAndDestroy()
    await vi.waitFor(() => expect(lines.map((l) => l.msg)).toContain('client disconnected'))
    expect(lines.find((l) => l.msg === 'connection error')).toMatchObject({
      level: 40,
      remoteAddress: '127.0.0.1',
      err: { code: 'ECONNRESET' },
    })
  })
})

describe('graceful close', () => {
  it('says goodbye to every client, waits for those that leave, forces the others', async () => {
    const { app, port } = await startDemoServer()
    const served: TCPSocket[] = []
    app.onConnection((socket) => {
      served.push(socket)
    })
    // The default client closes its side when the server closes its own.
    const polite = await Client.connect(port)
    // A half-open client keeps its side open until it is destroyed.
    const stubborn = await Client.connect(port, { allowHalfOpen: true })
    await polite.bytes(greeting.length)
    await stubborn.bytes(greeting.length)
    await vi.waitFor(() => expect(served).toHaveLength(2))
    const politeServed = served.find((s) => s.remotePort === polite.socket.localPort) as TCPSocket
    const politeGone = once(politeServed, 'close')

    const closing = app.close({ gracePeriod: 60_000, notify: sayGoodbye })
    const goodbye = Buffer.concat([greeting, Buffer.from(GOODBYE)])
    expect(await polite.untilClosed()).toEqual(goodbye)
    // The polite client has gone; now there is no reason to wait for the stubborn one.
    await politeGone
    expect(app.close({ gracePeriod: 0 })).toBe(closing)
    expect(await closing).toEqual({ closed: 1, forced: 1 })
    // The stubborn client got its goodbye too (its socket stays half-open until it writes or ends).
    expect(await stubborn.bytes(goodbye.length)).toEqual(goodbye)
    expect(app.connections.size).toBe(0)
  })

  it('does not echo what arrives after the goodbye', async () => {
    const { app, port } = await startDemoServer()
    const client = await Client.connect(port, { allowHalfOpen: true })
    await client.bytes(greeting.length)
    const closing = app.close({ gracePeriod: 60_000, notify: sayGoodbye })
    const goodbye = Buffer.concat([greeting, Buffer.from(GOODBYE)])
    await client.bytes(goodbye.length)
    client.socket.end('too late')
    expect(await client.untilClosed()).toEqual(goodbye)
    expect(await closing).toMatchObject({ forced: 0 })
  })

  it('counts a client that leaves by itself last as closed', async () => {
    const { app, port } = await startDemoServer()
    const client = await Client.connect(port)
    await client.bytes(greeting.length)
    await vi.waitFor(() => expect(app.connections.size).toBe(1))
    const result = await app.close({ gracePeriod: 60_000, notify: sayGoodbye })
    expect(result).toEqual({ closed: 1, forced: 0 })
    expect(app.connections.size).toBe(0)
    expect(await client.untilClosed()).toEqual(Buffer.from(GREETING + GOODBYE))
  })
})
