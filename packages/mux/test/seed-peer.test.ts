// A peer written from the seed page ("Stream Multiplexing"), with only the split-frame bug fixed
// (a receive buffer instead of dropping partial frames) and the two handlers the page leaves
// undefined filled in minimally. It never sends hello, numbers its streams from 1 on whatever
// side it is, and knows nothing of windows.
import { EventEmitter, once } from 'node:events'
import type { Socket } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { createSession, type MuxStream } from '../src/index.ts'
import { bytes, type Loopback, loopback, readAll, track, until } from './helpers.ts'

class StreamHandler extends EventEmitter {
  constructor(public id: number, public type: string, private socket: Socket) {
    super()
  }
  write(data: Buffer) {
    this.emit('data', this.id, data)
  }
  handleData(data: Buffer) {
    this.emit('data', data)
  }
  close() {
    this.emit('close')
  }
}

class TCPStreamMultiplexer {
  streams = new Map<number, StreamHandler>()
  private nextStreamId = 1
  private pending = Buffer.alloc(0) // the fix: keep partial frames

  constructor(private socket: Socket) {
    this.setupProtocol()
  }

  setupProtocol() {
    this.socket.on('data', (data: Buffer) => {
      this.handleMultiplexedData(data)
    })
  }

  createStream(type: string, metadata = {}): number {
    const streamId = this.nextStreamId++
    const stream = new StreamHandler(streamId, type, this.socket)
    this.streams.set(streamId, stream)
    this.sendControlMessage({ type: 'stream_create', streamId, streamType: type, metadata })
    return streamId
  }

  closeStream(streamId: number) {
    const stream = this.streams.get(streamId)
    if (stream) {
      stream.close()
      this.streams.delete(streamId)
      this.sendControlMessage({ type: 'stream_close', streamId })
    }
  }

  sendStreamData(streamId: number, data: Buffer) {
    const header = Buffer.alloc(8)
    header.writeUInt32BE(streamId, 0)
    header.writeUInt32BE(data.length, 4)
    this.socket.write(Buffer.concat([header, data]))
  }

  handleMultiplexedData(chunk: Buffer) {
    const data = Buffer.concat([this.pending, chunk])
    let offset = 0
    while (offset < data.length) {
      if (data.length - offset < 8) break
      const streamId = data.readUInt32BE(offset)
      const dataLength = data.readUInt32BE(offset + 4)
      if (data.length - offset < 8 + dataLength) break
      const streamData = data.slice(offset + 8, offset + 8 + dataLength)
      if (streamId === 0) {
        this.handleControlMessage(streamData)
      } else {
        const stream = this.streams.get(streamId)
        if (stream) stream.handleData(streamData)
      }
      offset += 8 + dataLength
    }
    this.pending = data.subarray(offset)
  }

  sendControlMessage(message: any) {
    const data = Buffer.from(JSON.stringify(message))
    this.sendStreamData(0, data)
  }

  handleControlMessage(data: Buffer) {
    try {
      const message = JSON.parse(data.toString())
      switch (message.type) {
        case 'stream_create':
          this.handleRemoteStreamCreate(message)
          break
        case 'stream_close':
          this.handleRemoteStreamClose(message)
          break
      }
    } catch {}
  }

  handleRemoteStreamCreate(message: any) {
    this.streams.set(message.streamId, new StreamHandler(message.streamId, message.streamType, this.socket))
  }

  handleRemoteStreamClose(message: any) {
    this.streams.get(message.streamId)?.close()
  }
}

let net: Loopback | undefined
afterEach(async () => {
  net?.client.destroy()
  net?.serverSocket.destroy()
  await new Promise((r) => net?.server.close(r))
  net = undefined
})

it('a seed peer opens streams with metadata, sends data and closes them', async () => {
  net = await loopback()
  const server = track(createSession(net.serverSocket, { role: 'acceptor', keepAliveInterval: 0 }))
  const got: Promise<[string, unknown, Buffer]>[] = []
  server.on('stream', (stream: MuxStream) => {
    got.push(readAll(stream).then((b) => [stream.type, stream.metadata, b]))
    stream.once('data', () => stream.write('ack'))
  })
  const seed = new TCPStreamMultiplexer(net.client)
  const payload = bytes(300_000) // larger than any window: no flow control towards a seed peer
  const ids = [seed.createStream('upload', { name: 'a.bin' }), seed.createStream('chat', {})]
  expect(ids).toEqual([1, 2]) // the seed numbers 1, 2, ... even as the dialler
  const replies = ids.map(
    (id) => once(seed.streams.get(id) as StreamHandler, 'data') as Promise<[Buffer]>,
  )
  seed.sendStreamData(1, payload)
  seed.sendStreamData(2, Buffer.from('hi'))
  const answers = await Promise.all(replies)
  expect(answers.map(([r]) => String(r))).toEqual(['ack', 'ack'])
  seed.closeStream(1)
  seed.closeStream(2)
  const [a, b] = (await Promise.all(got)) as [[string, unknown, Buffer], [string, unknown, Buffer]]
  expect(a[0]).toBe('upload')
  expect(a[1]).toEqual({ name: 'a.bin' })
  expect(a[2].equals(payload)).toBe(true)
  expect(b[0]).toBe('chat')
  expect(String(b[2])).toBe('hi')
  expect(server.peer?.hello).toBe(false)
  expect(server.closed).toBe(false)
})

it('we can open a stream towards a seed peer; our ids skip past its ids', async () => {
  net = await loopback()
  const server = track(createSession(net.serverSocket, { role: 'acceptor', keepAliveInterval: 0 }))
  server.on('stream', (s: MuxStream) => s.resume())
  const seed = new TCPStreamMultiplexer(net.client)
  seed.createStream('first')
  seed.createStream('second')
  await until(() => server.streams.size === 2)
  const ours = server.open('push', { to: 'seed' })
  expect(ours.id).toBeGreaterThan(2)
  await until(() => seed.streams.has(ours.id))
  const data = once(seed.streams.get(ours.id) as StreamHandler, 'data')
  ours.write(bytes(200_000))
  const [first] = (await data) as [Buffer]
  expect(first.length).toBeGreaterThan(0)
})

it('a seed peer that ignores credit is held back by pausing the socket while a reader lags', async () => {
  net = await loopback()
  const server = track(
    createSession(net.serverSocket, {
      role: 'acceptor',
      keepAliveInterval: 0,
      streamHighWaterMark: 64 * 1024,
    }),
  )
  let remote: MuxStream | undefined
  server.on('stream', (s: MuxStream) => {
    remote = s
  })
  const seed = new TCPStreamMultiplexer(net.client)
  const id = seed.createStream('flood')
  const chunk = bytes(64 * 1024)
  for (let i = 0; i < 64; i++) seed.sendStreamData(id, chunk) // 4 MiB, no credit asked
  await until(() => remote !== undefined && net?.serverSocket.isPaused() === true)
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
  // Only about one high-water mark is held by the stream, not the 4 MiB sent.
  expect(server.bufferedBytes).toBeLessThan(1024 * 1024)
  let got = 0
  const r = remote as MuxStream
  r.on('data', (c: Buffer) => {
    got += c.length
  })
  await until(() => got === 64 * chunk.length)
  expect(net.serverSocket.isPaused()).toBe(false)
})
