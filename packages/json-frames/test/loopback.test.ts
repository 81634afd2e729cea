import { once } from 'node:events'
import type { Socket } from 'node:net'
import { PassThrough, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ProtocolError } from '@verb-tcp/core'
import {
  closeAll,
  connectLoopback,
  listenLoopback,
  turns,
  until,
  writeUntilPaused,
} from '@verb-tcp/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import {
  attachMessages,
  createMessageStream,
  createMessageTransform,
  encodeMessage,
  iterateMessages,
  MessageHandler,
} from '../src/index.ts'

afterEach(closeAll)

/** An echo server: replies { type: 'echo', data } to each message; records errors. */
async function echoServer(errors: ProtocolError[] = [], listen_ = true) {
  return listenLoopback((socket) => {
    const h = new MessageHandler(socket)
    if (listen_) h.on('error', (e) => errors.push(e))
    h.on('message', (m) => h.sendMessage({ type: 'echo', data: m.data }))
  })
}

function nextMessage(h: MessageHandler): Promise<unknown> {
  return new Promise((resolve) => h.once('message', resolve))
}

describe('MessageHandler over loopback', () => {
  it('echoes messages, including non-ASCII, delivered one byte at a time', async () => {
    const port = await echoServer()
    const client = await connectLoopback(port)
    const h = new MessageHandler(client)
    const got: unknown[] = []
    h.on('message', (m) => got.push(m))
    const wire = Buffer.concat([
      encodeMessage({ type: 't', data: 'héllo 🎉' }),
      encodeMessage({ type: 't', data: 2 }),
    ])
    for (const b of wire) client.write(Buffer.from([b]))
    while (got.length < 2) await nextMessage(h)
    expect(got).toEqual([
      { type: 'echo', data: 'héllo 🎉' },
      { type: 'echo', data: 2 },
    ])
  })

  it('sendMessage returns what socket.write returns and throws before writing bad values', async () => {
    const port = await echoServer()
    const client = await connectLoopback(port)
    const h = new MessageHandler(client)
    expect(h.sendMessage({ type: 'x' })).toBe(true)
    expect(() => h.sendMessage(10n)).toThrowError(
      expect.objectContaining({ code: 'ERR_UNSERIALIZABLE' }),
    )
    expect(() =>
      new MessageHandler(new PassThrough(), { maxSendBytes: 4 }).sendMessage('long'),
    ).toThrowError(expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }))
    expect(client.bytesWritten).toBe(encodeMessage({ type: 'x' }).length)
  })

  it('without an error listener: skips recoverable errors and counts them', async () => {
    let handler: MessageHandler | undefined
    const port = await listenLoopback((socket) => {
      const h = new MessageHandler(socket)
      handler = h
      h.on('message', (m) => h.sendMessage(m))
    })
    const client = await connectLoopback(port)
    const h = new MessageHandler(client)
    client.write('3\n{x}')
    client.write(Buffer.from([0x31, 0x0a, 0xff]))
    h.sendMessage({ type: 'still here' })
    expect(await nextMessage(h)).toEqual({ type: 'still here' })
    expect(handler?.skipped).toBe(2)
  })

  it('without an error listener: a fatal error destroys that socket with the error, no crash', async () => {
    let serverSocket: Socket | undefined
    const port = await listenLoopback((socket) => {
      serverSocket = socket
      new MessageHandler(socket)
    })
    const client = await connectLoopback(port)
    client.write('-5\n{}')
    await once(client, 'close')
    expect(serverSocket?.destroyed).toBe(true)
    expect((serverSocket?.errored as ProtocolError | null)?.code).toBe('ERR_BAD_LENGTH')
  })

  it('with an error listener: emits every error and ends the socket after a fatal one', async () => {
    const errors: ProtocolError[] = []
    const port = await echoServer(errors)
    const client = await connectLoopback(port)
    client.write('2\n{x')
    client.write('}')
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    await once(client, 'close')
    expect(errors.map((e) => [e.code, e.recoverable])).toEqual([
      ['ERR_INVALID_JSON', true],
      ['ERR_BAD_LENGTH', false],
    ])
  })

  it('keeps serving other clients while it is fed an HTTP request, a TLS ClientHello and a drip of digits', async () => {
    const errors: ProtocolError[] = []
    const port = await echoServer(errors)
    const good = await connectLoopback(port)
    const goodHandler = new MessageHandler(good)

    const http = await connectLoopback(port)
    const httpClosed = once(http, 'close')
    http.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')
    const tls = await connectLoopback(port)
    const tlsClosed = once(tls, 'close')
    tls.write(Buffer.from('160301020001000001fc0303', 'hex'))
    const drip = await connectLoopback(port)
    let dripped = 0
    const dripClosed = once(drip, 'close')
    while (!drip.destroyed && dripped < 1000) {
      drip.write('9')
      dripped++
      goodHandler.sendMessage({ type: 'ping', data: dripped })
      expect(await nextMessage(goodHandler)).toEqual({ type: 'echo', data: dripped })
    }
    await Promise.all([httpClosed, tlsClosed, dripClosed])
    expect(dripped).toBeLessThan(20) // 7 digits exceed 8 MiB; the close may lag a few writes
    expect(errors.map((e) => e.code).sort()).toEqual([
      'ERR_BAD_LENGTH',
      'ERR_BAD_LENGTH',
      'ERR_FRAME_TOO_LARGE',
    ])
    expect(errors.find((e) => e.message.includes('47 45 54 20'))).toBeDefined()
    goodHandler.sendMessage({ type: 'ping', data: 'last' })
    expect(await nextMessage(goodHandler)).toEqual({ type: 'echo', data: 'last' })
  })

  it('pauses reading while the peer does not read our replies', async () => {
    let serverSocket: Socket | undefined
    let answered = 0
    let answeredBeforeDrain = 0
    let drained = true
    const port = await listenLoopback((socket) => {
      serverSocket = socket
      const h = new MessageHandler(socket)
      h.on('message', () => {
        answered++
        if (!drained) answeredBeforeDrain++
        h.sendMessage({ type: 'big', data: 'x'.repeat(256 * 1024) })
      })
    })
    const client = await connectLoopback(port)
    client.pause() // never reads the replies
    const request = encodeMessage({ type: 'q' })
    const sent = await writeUntilPaused(client, request, {
      server: () => serverSocket,
      answered: () => answered,
    })
    // From here every reply must wait for a drain: requests sent now are not read before it.
    drained = false
    serverSocket?.once('drain', () => {
      drained = true
    })
    const buffered = serverSocket?.writableLength ?? 0
    for (let i = 0; i < 20; i++) client.write(request)
    await turns(20)
    expect(serverSocket?.writableLength).toBe(buffered)
    // Reading our replies lets the socket drain; then the 20 requests are read and answered.
    client.resume()
    await until(() => answered === sent + 20)
    expect(answeredBeforeDrain).toBe(0)
  })
})

describe('core adapters with MessageDecoder', () => {
  const wire = Buffer.concat([
    encodeMessage({ type: 'a' }),
    encodeMessage({ type: 'ü' }),
    encodeMessage([1, 2]),
  ])
  const pieces = [wire.subarray(0, 5), wire.subarray(5, 17), wire.subarray(17)]

  it('iterates messages from a socket, frame by frame and in batches', async () => {
    const port = await listenLoopback((socket) => socket.end(wire))
    const frames: unknown[] = []
    for await (const m of iterateMessages(await connectLoopback(port))) frames.push(m)
    expect(frames).toEqual([{ type: 'a' }, { type: 'ü' }, [1, 2]])
    const batches: unknown[][] = []
    for await (const b of iterateMessages(Readable.from(pieces), { batch: true })) batches.push(b)
    expect(batches.flat()).toEqual(frames)
  })

  it('decodes through a Node Transform and a Web TransformStream', async () => {
    const out: unknown[] = []
    await pipeline(
      Readable.from(pieces),
      createMessageTransform(),
      new Writable({
        objectMode: true,
        write: (m, _e, cb) => {
          out.push(m)
          cb()
        },
      }),
    )
    const web: unknown[] = []
    const stream = ReadableStream.from(pieces).pipeThrough(createMessageStream())
    for await (const m of stream as unknown as AsyncIterable<unknown>) web.push(m)
    expect(out).toEqual([{ type: 'a' }, { type: 'ü' }, [1, 2]])
    expect(web).toEqual(out)
  })

  it('surfaces bad JSON as recoverable through onRecoverableError, framing errors as fatal', async () => {
    const seen: string[] = []
    const src = Readable.from([Buffer.from('2\n{x'), encodeMessage(1), Buffer.from('x')])
    const frames: unknown[] = []
    const err = await (async () => {
      for await (const m of iterateMessages(src, {
        onRecoverableError: (e) => seen.push(e.code),
      }))
        frames.push(m)
    })().catch((e: ProtocolError) => e)
    expect(seen).toEqual(['ERR_INVALID_JSON'])
    expect(frames).toEqual([1])
    expect((err as ProtocolError).code).toBe('ERR_BAD_LENGTH')
  })

  it('attaches to a socket, with the decoder options and requireType', async () => {
    const port = await listenLoopback((socket) =>
      socket.end(Buffer.concat([encodeMessage({ type: 'a' }), encodeMessage([1])])),
    )
    const socket = await connectLoopback(port)
    const frames: unknown[] = []
    const codes: string[] = []
    const ended = new Promise<void>((resolve) => {
      attachMessages(
        socket,
        { frame: (m) => frames.push(m), error: (e) => codes.push(e.code), end: resolve },
        { requireType: true },
      )
    })
    await ended
    expect(frames).toEqual([{ type: 'a' }])
    expect(codes).toEqual(['ERR_INVALID_MESSAGE'])
  })
})
