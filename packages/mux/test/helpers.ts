import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { Duplex, type Readable } from 'node:stream'
import { createSession, type MuxSession, type MuxSessionOptions } from '../src/index.ts'

export interface PairOptions {
  /** Cut every written chunk into pieces of this many bytes (1 = every byte on its own). */
  split?: number
}

/**
 * Two cross-wired in-memory Duplexes, like the two ends of a TCP connection: what one writes
 * the other reads; `end()` on one ends the other's readable side; destroying one closes both.
 */
export function duplexPair(options: PairOptions = {}): [Duplex, Duplex] {
  const make = (): Duplex & { peer?: Duplex } => {
    const d: Duplex & { peer?: Duplex } = new Duplex({
      allowHalfOpen: false,
      read() {},
      write(chunk: Buffer, _enc, cb) {
        const peer = d.peer as Duplex
        if (!peer.destroyed) {
          const step = options.split ?? chunk.length
          for (let i = 0; i < chunk.length; i += step) peer.push(chunk.subarray(i, i + step))
        }
        cb()
      },
      final(cb) {
        const peer = d.peer as Duplex
        if (!peer.destroyed) peer.push(null)
        cb()
      },
      destroy(err, cb) {
        const peer = d.peer as Duplex
        if (!peer.destroyed) process.nextTick(() => peer.destroy())
        cb(err)
      },
    })
    return d
  }
  const a = make()
  const b = make()
  a.peer = b
  b.peer = a
  return [a, b]
}

export interface SessionPair {
  dialler: MuxSession
  acceptor: MuxSession
  a: Duplex
  b: Duplex
}

const open: MuxSession[] = []

/** Two sessions over an in-memory pair; `closeAll()` in afterEach destroys every one made. */
export function sessionPair(
  options: Partial<MuxSessionOptions> = {},
  acceptorOptions: Partial<MuxSessionOptions> = options,
  pair: PairOptions = {},
): SessionPair {
  const [a, b] = duplexPair(pair)
  const dialler = createSession(a, { keepAliveInterval: 0, ...options, role: 'dialler' })
  const acceptor = createSession(b, { keepAliveInterval: 0, ...acceptorOptions, role: 'acceptor' })
  open.push(dialler, acceptor)
  return { dialler, acceptor, a, b }
}

export function track(session: MuxSession): MuxSession {
  open.push(session)
  return session
}

export async function closeAll(): Promise<void> {
  for (const s of open.splice(0)) s.destroy()
}

/** Reads a stream to its end and returns every byte. */
export function readAll(stream: Readable): Promise<Buffer> {
  // Not `for await`: the async iterator destroys a Duplex once its readable side ends, which
  // would reset a stream whose writable side is still open.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.once('end', () => resolve(Buffer.concat(chunks)))
    stream.once('error', reject)
    stream.once('close', () => {
      if (!stream.readableEnded) reject(new Error('closed before end'))
    })
  })
}

/** Deterministic bytes. */
export function bytes(n: number, salt = 1): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = salt >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

export interface Loopback {
  server: Server
  client: Socket
  serverSocket: Socket
}

/** A real loopback TCP connection on port 0. */
export async function loopback(): Promise<Loopback> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'connection')
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  const [[serverSocket]] = await Promise.all([accepted, once(client, 'connect')])
  return { server, client, serverSocket: serverSocket as Socket }
}

export { until } from '@verb-tcp/core/testing'

/** One frame: u32 BE stream id, u32 BE length, payload. */
export function frame(streamId: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  const header = Buffer.alloc(8)
  header.writeUInt32BE(streamId, 0)
  header.writeUInt32BE(body.length, 4)
  return Buffer.concat([header, body])
}

/** A JSON control frame on stream 0. */
export function ctrl(message: object): Buffer {
  return frame(0, JSON.stringify(message))
}

export const HELLO = {
  type: 'hello',
  version: 1,
  initialWindow: 65536,
  sessionWindow: 1 << 20,
  maxStreams: 100,
  maxFrameSize: 65536,
  features: [],
}

/** Decodes every complete frame in `bytes` (for assertions on what a session wrote). */
export function parseFrames(bytes: Buffer): { streamId: number; payload: Buffer }[] {
  const out = []
  let i = 0
  while (bytes.length - i >= 8) {
    const len = bytes.readUInt32BE(i + 4)
    if (bytes.length - i - 8 < len) break
    out.push({ streamId: bytes.readUInt32BE(i), payload: bytes.subarray(i + 8, i + 8 + len) })
    i += 8 + len
  }
  return out
}

/** Control messages (stream 0, parsed) in `bytes`. */
export function controls(bytes: Buffer): { type: string; [k: string]: unknown }[] {
  return parseFrames(bytes)
    .filter((f) => f.streamId === 0)
    .map((f) => JSON.parse(String(f.payload)))
}

/**
 * A session on one end of an in-memory pair and a raw hand on the other: `send` writes bytes,
 * `received()` is everything the session wrote.
 */
export function rawPeer(
  options: Partial<MuxSessionOptions> & { role?: 'dialler' | 'acceptor' } = {},
) {
  const [a, b] = duplexPair()
  const session = track(createSession(a, { keepAliveInterval: 0, role: 'acceptor', ...options }))
  const chunks: Buffer[] = []
  b.on('data', (c: Buffer) => chunks.push(c))
  b.on('error', () => {})
  return {
    session,
    raw: b,
    send: (...bufs: Buffer[]) => {
      for (const x of bufs) b.write(x)
    },
    received: () => Buffer.concat(chunks),
  }
}

/** The error a session closes with. Not `once(session, 'close')`: that adds an 'error' listener. */
export function closeError(session: MuxSession): Promise<unknown> {
  return new Promise((resolve) => session.once('close', (error) => resolve(error)))
}
