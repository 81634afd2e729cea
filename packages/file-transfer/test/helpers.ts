import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { type BinaryFrame, BinaryProtocolHandler, FILE_TRANSFER } from '@verb-tcp/binary-frames'
import { createTCPClient, createTCPServer, type TestClient } from '@verb-tcp/core/testing'
import { MessageHandler } from '@verb-tcp/json-frames'
import {
  FileReceiver,
  type FileReceiverOptions,
  receiveFiles,
  type TCPFileTransferServer,
} from '../src/index.ts'

const cleanups: (() => void | Promise<void>)[] = []

/** Runs what tests registered (receivers closed, temp dirs removed); for `afterEach`. */
export async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn()
}

export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn)
}

/** A temp root holding `uploads/` and a `sentinel` file beside it that nothing may touch. */
export function sandbox(): { root: string; uploads: string; sentinel: string } {
  const root = mkdtempSync(join(tmpdir(), 'ft-test-'))
  const uploads = join(root, 'uploads')
  mkdirSync(uploads)
  const sentinel = join(root, 'sentinel')
  writeFileSync(sentinel, 'untouched')
  onCleanup(() => rmSync(root, { recursive: true, force: true }))
  return { root, uploads, sentinel }
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

export function sourceFile(
  root: string,
  size: number,
  name = 'source.bin',
): { path: string; data: Buffer } {
  const data = randomBytes(size)
  const path = join(root, name)
  writeFileSync(path, data)
  return { path, data }
}

export function receiver(uploads: string, options: FileReceiverOptions = {}): FileReceiver {
  const r = new FileReceiver(uploads, options)
  onCleanup(() => r.close())
  return r
}

/** A loopback server running the fast path on `r`; resolves to its port. */
export async function fastServer(r: FileReceiver): Promise<number> {
  const server = createTCPServer({ onConnection: (socket) => void receiveFiles(socket, r) })
  return (await server.ready).port
}

/** A loopback server running the docs path; resolves to its port. */
export async function docsServer(s: TCPFileTransferServer): Promise<number> {
  const server = createTCPServer({ onConnection: (socket) => void s.attach(socket) })
  return (await server.ready).port
}

export async function client(port: number): Promise<TestClient> {
  const c = createTCPClient()
  await c.connect(port, '127.0.0.1')
  return c
}

/** A json-frames client that queues every message it receives. */
export class DocsClient {
  readonly messages: MessageHandler
  readonly inbox: Record<string, unknown>[] = []
  #waiters: (() => void)[] = []
  constructor(readonly socket: Duplex) {
    this.messages = new MessageHandler(socket)
    this.messages.on('message', (m) => {
      this.inbox.push(m)
      for (const w of this.#waiters.splice(0)) w()
    })
  }
  send(message: unknown): void {
    this.messages.sendMessage(message)
  }
  /** The first queued message that `match` accepts, removed from the inbox. */
  async next(
    match: (m: Record<string, unknown>) => boolean = () => true,
  ): Promise<Record<string, unknown>> {
    for (let i = 0; i < 10_000; i++) {
      const at = this.inbox.findIndex(match)
      if (at >= 0) return this.inbox.splice(at, 1)[0] as Record<string, unknown>
      if (this.socket.destroyed) throw new Error('socket closed')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    throw new Error('no such message')
  }
  type(type: string) {
    return this.next((m) => m.type === type || m.type === 'error')
  }
}

/** A raw fast-path client: frames sent by hand, replies queued. */
export class FastClient {
  readonly handler: BinaryProtocolHandler
  readonly inbox: BinaryFrame[] = []
  #waiters: (() => void)[] = []
  constructor(readonly socket: Duplex) {
    this.handler = new BinaryProtocolHandler(socket)
    this.handler.on(FILE_TRANSFER, (frame) => {
      this.inbox.push({ ...frame, payload: Buffer.from(frame.payload) })
      for (const w of this.#waiters.splice(0)) w()
    })
  }
  send(op: number, payload: Uint8Array): void {
    this.handler.sendBinaryMessage(FILE_TRANSFER, payload, op)
  }
  json(op: number, body: unknown): void {
    this.send(op, Buffer.from(JSON.stringify(body)))
  }
  async next(op?: number): Promise<{ op: number; body: Buffer; json: Record<string, unknown> }> {
    for (let i = 0; i < 10_000; i++) {
      const at = this.inbox.findIndex(
        (f) => op === undefined || (f.flags & 0xff) === op || (f.flags & 0xff) === 7,
      )
      if (at >= 0) {
        const frame = this.inbox.splice(at, 1)[0] as BinaryFrame
        const body = Buffer.from(frame.payload)
        let json: Record<string, unknown> = {}
        try {
          json = JSON.parse(body.toString())
        } catch {}
        return { op: frame.flags & 0xff, body, json }
      }
      if (this.socket.destroyed) throw new Error('socket closed')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    throw new Error('no such frame')
  }
}

/** The partial files of an upload directory, without their locks. */
export const partials = (uploads: string): string[] =>
  readdirSync(join(uploads, '.partial')).filter((f) => !f.endsWith('.lock'))

/** A fast-path data frame: transfer id, 64-bit offset, optional CRC-32, then the bytes. */
export function dataFrame(id: string, offset: number, bytes: Buffer, crc?: number): Buffer {
  const out = Buffer.alloc((crc === undefined ? 24 : 28) + bytes.length)
  out.write(id, 0, 16, 'hex')
  out.writeUInt32BE(Math.floor(offset / 2 ** 32), 16)
  out.writeUInt32BE(offset >>> 0, 20)
  if (crc !== undefined) out.writeUInt32BE(crc, 24)
  bytes.copy(out, crc === undefined ? 24 : 28)
  return out
}

export { once }
