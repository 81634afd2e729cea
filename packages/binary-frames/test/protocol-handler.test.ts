import { once } from 'node:events'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import { createServer, type ProtocolError } from '@verb-tcp/core'
import {
  closeAll,
  connectLoopback,
  defer,
  listenLoopback,
  turns,
  until,
  writeUntilPaused,
} from '@verb-tcp/core/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type BinaryFrame,
  BinaryProtocolHandler,
  DATA,
  encodeFrame,
  encodeHeader,
  FILE_TRANSFER,
  HEARTBEAT,
  PONG,
} from '../src/index.ts'

afterEach(async () => {
  vi.restoreAllMocks()
  await closeAll()
})

function next(h: BinaryProtocolHandler, event: number | 'frame' | 'unknown'): Promise<BinaryFrame> {
  return new Promise((resolve) => h.once(event, resolve))
}

/** A server that echoes DATA and FILE_TRANSFER frames (flags kept) and records errors. */
async function echoServer(errors?: ProtocolError[]) {
  return listenLoopback((socket) => {
    const h = new BinaryProtocolHandler(socket)
    if (errors) h.on('error', (e) => errors.push(e))
    h.on(DATA, (f) => h.sendBinaryMessage(DATA, f.payload, f.flags))
    h.on(FILE_TRANSFER, (f) => h.sendBinaryMessage(FILE_TRANSFER, f.payload, f.flags))
  })
}

describe('BinaryProtocolHandler over loopback', () => {
  it('answers a heartbeat with PONG "pong" (server from @verb-tcp/core)', async () => {
    const app = createServer().withOptions({
      tcp: { onConnection: (socket) => void new BinaryProtocolHandler(socket) },
    })
    defer(() => app.close({ gracePeriod: 0 }))
    const { port } = await app.listen(0, '127.0.0.1')
    const client = await connectLoopback(port)
    const h = new BinaryProtocolHandler(client)
    const pong = next(h, PONG)
    expect(h.sendBinaryMessage(HEARTBEAT, Buffer.alloc(0))).toBe(true)
    const frame = await pong
    expect(frame).toMatchObject({ type: PONG, flags: 0 })
    expect(frame.payload.toString()).toBe('pong')
  })

  it('dispatches by type, emits every frame, and surfaces unknown types as an event, with no console output', async () => {
    const log = vi.spyOn(console, 'log')
    const warn = vi.spyOn(console, 'warn')
    const unknown: BinaryFrame[] = []
    const all: number[] = []
    let heartbeats = 0
    const port = await listenLoopback((socket) => {
      const h = new BinaryProtocolHandler(socket)
      h.on('frame', (f) => all.push(f.type))
      h.on(HEARTBEAT, () => heartbeats++)
      h.on(DATA, (f) => h.sendBinaryMessage(DATA, f.payload, f.flags))
      h.on('unknown', (f) => {
        unknown.push(f)
        h.sendBinaryMessage(0x7f, Buffer.from([f.type >> 8, f.type & 0xff]))
      })
    })
    const client = await connectLoopback(port)
    const h = new BinaryProtocolHandler(client)
    client.write(
      Buffer.concat([
        encodeFrame(HEARTBEAT, Buffer.alloc(0)),
        encodeFrame(0x0102, Buffer.from('?'), 0x0405),
        encodeFrame(DATA, Buffer.from('héllo'), 0x8001),
      ]),
    )
    const replies: BinaryFrame[] = []
    h.on('frame', (f) => replies.push(f))
    while (replies.length < 3) await next(h, 'frame')
    expect(replies.map((f) => [f.type, f.flags, f.payload.toString('hex')])).toEqual([
      [PONG, 0, Buffer.from('pong').toString('hex')],
      [0x7f, 0, '0102'],
      [DATA, 0x8001, Buffer.from('héllo').toString('hex')],
    ])
    expect(all).toEqual([HEARTBEAT, 0x0102, DATA])
    expect(heartbeats).toBe(1)
    expect(unknown.map((f) => [f.type, f.flags])).toEqual([[0x0102, 0x0405]])
    expect(log).not.toHaveBeenCalled()
    expect(warn).not.toHaveBeenCalled()
  })

  it('with heartbeat: false, a heartbeat is an ordinary (here unknown) frame and is not answered', async () => {
    const unknown: number[] = []
    const port = await listenLoopback((socket) => {
      const h = new BinaryProtocolHandler(socket, { heartbeat: false })
      h.on('unknown', (f) => {
        unknown.push(f.type)
        h.sendBinaryMessage(DATA, Buffer.from('seen'))
      })
    })
    const client = await connectLoopback(port)
    const h = new BinaryProtocolHandler(client)
    h.sendBinaryMessage(HEARTBEAT, Buffer.alloc(0))
    const reply = await next(h, 'frame')
    expect(reply.type).toBe(DATA)
    expect(unknown).toEqual([HEARTBEAT])
  })

  it('echoes data split at every byte, and a 1 MiB file-transfer payload written without a copy', async () => {
    const port = await echoServer()
    const client = await connectLoopback(port)
    const h = new BinaryProtocolHandler(client)
    const wire = encodeFrame(DATA, Buffer.from('split me'), 0x0405)
    for (const b of wire) client.write(Buffer.from([b]))
    const data = await next(h, DATA)
    expect([data.flags, data.payload.toString()]).toEqual([0x0405, 'split me'])

    const big = Buffer.alloc(1024 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff
    const write = vi.spyOn(client, 'write')
    h.sendBinaryMessage(FILE_TRANSFER, big, 0x0102)
    expect(write.mock.calls.map((c) => (c[0] as Uint8Array).length)).toEqual([8, big.length])
    expect(write.mock.calls[1]?.[0]).toBe(big)
    const echoed = await next(h, FILE_TRANSFER)
    expect(echoed.flags).toBe(0x0102)
    expect(echoed.payload.equals(big)).toBe(true)
  })

  it('sendBinaryMessage returns what socket.write returns and throws before writing bad frames', async () => {
    const port = await echoServer()
    const client = await connectLoopback(port)
    const h = new BinaryProtocolHandler(client, { maxSendBytes: 4 })
    expect(h.sendBinaryMessage(DATA, Buffer.from('abcd'))).toBe(true)
    expect(() => h.sendBinaryMessage(0x10000, Buffer.alloc(0))).toThrowError(
      expect.objectContaining({ code: 'ERR_ENCODE_RANGE' }),
    )
    expect(() => h.sendBinaryMessage(DATA, Buffer.alloc(0), -1)).toThrowError(
      expect.objectContaining({ code: 'ERR_ENCODE_RANGE' }),
    )
    expect(() => h.sendBinaryMessage(DATA, Buffer.from('abcde'))).toThrowError(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE', limit: 4 }),
    )
    expect(client.bytesWritten).toBe(12)
    // A socket whose buffer is full: write() returns false, and so does sendBinaryMessage.
    const stuck = new Duplex({ read() {}, write() {}, writableHighWaterMark: 4 })
    const full = new BinaryProtocolHandler(stuck)
    expect(full.sendBinaryMessage(DATA, Buffer.from('x'))).toBe(false)
    stuck.destroy()
  })

  it('fails an HTTP request line and a TLS ClientHello fast, with their first bytes in hex, and keeps serving others', async () => {
    const errors: ProtocolError[] = []
    const serverSockets: Socket[] = []
    const port = await listenLoopback((socket) => {
      serverSockets.push(socket)
      const h = new BinaryProtocolHandler(socket)
      h.on('error', (e) => errors.push(e))
      h.on(DATA, (f) => h.sendBinaryMessage(DATA, f.payload))
    })
    const good = await connectLoopback(port)
    const goodHandler = new BinaryProtocolHandler(good)

    const request = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
    const http = await connectLoopback(port)
    const httpClosed = once(http, 'close')
    http.write(request)
    const hello = Buffer.from('16030100c8010000c40303', 'hex')
    const tls = await connectLoopback(port)
    const tlsClosed = once(tls, 'close')
    tls.write(hello)
    // Neither peer sends more, yet both are refused: nothing waits for the declared payload.
    await Promise.all([httpClosed, tlsClosed])
    expect(errors.map((e) => [e.code, e.recoverable])).toEqual([
      ['ERR_FRAME_TOO_LARGE', false],
      ['ERR_FRAME_TOO_LARGE', false],
    ])
    expect(errors[0]?.message).toContain('47 45 54 20 2f 20 48 54')
    expect(errors[0]?.declaredLength).toBe(0x54202f20)
    expect(errors[1]?.message).toContain('16 03 01 00 c8 01 00 00')
    expect(serverSockets[1]?.bytesRead).toBe(request.length)
    expect(serverSockets[2]?.bytesRead).toBe(hello.length)

    goodHandler.sendBinaryMessage(DATA, Buffer.from('still here'))
    expect((await next(goodHandler, DATA)).payload.toString()).toBe('still here')
  })

  it('without an error listener: skips recoverable errors and counts them', async () => {
    let handler: BinaryProtocolHandler | undefined
    const port = await listenLoopback((socket) => {
      const h = new BinaryProtocolHandler(socket, { types: [HEARTBEAT, DATA] })
      handler = h
      h.on(DATA, (f) => h.sendBinaryMessage(DATA, f.payload))
    })
    const client = await connectLoopback(port)
    const h = new BinaryProtocolHandler(client)
    client.write(encodeFrame(0x99, Buffer.from('nope')))
    client.write(encodeFrame(0x98, Buffer.alloc(0)))
    h.sendBinaryMessage(DATA, Buffer.from('ok'))
    expect((await next(h, DATA)).payload.toString()).toBe('ok')
    expect(handler?.skipped).toBe(2)
  })

  it('without an error listener: a fatal error destroys that socket with the error, no crash', async () => {
    let serverSocket: Socket | undefined
    const port = await listenLoopback((socket) => {
      serverSocket = socket
      new BinaryProtocolHandler(socket)
    })
    const client = await connectLoopback(port)
    client.write(encodeHeader(DATA, 2 ** 32 - 1))
    await once(client, 'close')
    expect(serverSocket?.destroyed).toBe(true)
    expect((serverSocket?.errored as ProtocolError | null)?.code).toBe('ERR_FRAME_TOO_LARGE')
  })

  it('with an error listener: emits every error and ends the socket after a fatal one', async () => {
    const errors: ProtocolError[] = []
    const port = await listenLoopback((socket) => {
      const h = new BinaryProtocolHandler(socket, { types: [DATA] })
      h.on('error', (e) => errors.push(e))
    })
    const client = await connectLoopback(port)
    client.write(encodeFrame(0x55, Buffer.from('x')))
    client.write(encodeHeader(DATA, 9 * 1024 * 1024))
    await once(client, 'close')
    expect(errors.map((e) => [e.code, e.recoverable])).toEqual([
      ['ERR_UNKNOWN_TYPE', true],
      ['ERR_FRAME_TOO_LARGE', false],
    ])
  })

  it('a socket that delivers strings (setEncoding) is a fatal ERR_INVALID_CHUNK, not a crash', async () => {
    const errors: ProtocolError[] = []
    const port = await listenLoopback((socket) => {
      socket.setEncoding('latin1') // the verb docs' configureSocket did this
      const h = new BinaryProtocolHandler(socket)
      h.on('error', (e) => errors.push(e))
    })
    const client = await connectLoopback(port)
    client.write(encodeFrame(DATA, Buffer.from('x')))
    await once(client, 'close')
    expect(errors.map((e) => e.code)).toEqual(['ERR_INVALID_CHUNK'])
  })

  it('a listener that throws is a fatal ERR_HANDLER_FAILED, not a crash', async () => {
    const errors: ProtocolError[] = []
    const port = await listenLoopback((socket) => {
      const h = new BinaryProtocolHandler(socket)
      h.on('error', (e) => errors.push(e))
      h.on(DATA, () => {
        throw new Error('application bug')
      })
    })
    const client = await connectLoopback(port)
    client.write(encodeFrame(DATA, Buffer.from('x')))
    await once(client, 'close')
    expect(errors.map((e) => e.code)).toEqual(['ERR_HANDLER_FAILED'])
    expect(errors[0]?.cause).toMatchObject({ message: 'application bug' })
  })

  it('pauses reading while the peer does not read our replies (heartbeat flood)', async () => {
    let serverSocket: Socket | undefined
    let served = 0
    let heartbeats = 0
    let heartbeatsBeforeDrain = 0
    let drained = true
    const port = await listenLoopback((socket) => {
      serverSocket = socket
      const h = new BinaryProtocolHandler(socket)
      h.on(DATA, () => {
        served++
        h.sendBinaryMessage(DATA, Buffer.alloc(256 * 1024))
      })
      h.on(HEARTBEAT, () => {
        heartbeats++
        if (!drained) heartbeatsBeforeDrain++
      })
    })
    const client = await connectLoopback(port)
    client.pause() // never reads the replies
    const request = encodeFrame(DATA, Buffer.alloc(0))
    await writeUntilPaused(client, request, { server: () => serverSocket, answered: () => served })
    // From here every reply must wait for a drain: what is sent now is not read before it.
    drained = false
    serverSocket?.once('drain', () => {
      drained = true
    })
    const buffered = serverSocket?.writableLength ?? 0
    // Heartbeats too are requests that make replies: while paused, none is read or answered.
    for (let i = 0; i < 20; i++) client.write(encodeFrame(HEARTBEAT, Buffer.alloc(0)))
    await turns(20)
    expect(heartbeats).toBe(0)
    expect(serverSocket?.writableLength).toBe(buffered)
    // Reading our replies lets the socket drain; then the heartbeats are read and answered.
    client.resume()
    await until(() => heartbeats === 20)
    expect(heartbeatsBeforeDrain).toBe(0)
  })
})
