import type { Socket } from 'node:net'
import { type BinaryFrame, BinaryFrameDecoder, encodeFrame } from '@verb-tcp/binary-frames'
import type { ProtocolError } from '@verb-tcp/core'
import { encodeMessage, MessageDecoder } from '@verb-tcp/json-frames'
import { createSession, type MuxSession } from '@verb-tcp/mux'
import { connectTo, withTimeout } from './util.ts'

export type Message = Record<string, unknown> & { type?: string }

interface Waiter<T> {
  test: (value: T) => boolean
  resolve: (value: T) => void
  reject: (error: Error) => void
}

/**
 * A well-behaved json-frames client of the message port, decoding with the package's own
 * decoder. Everything it receives is kept in order (`received`) and counted by type, so a
 * scenario can check each message arrived exactly once.
 */
export class MessageClient {
  readonly received: Message[] = []
  readonly decodeErrors: ProtocolError[] = []
  readonly counts = new Map<string, number>()
  sent = 0
  closed = false
  keep: boolean
  #waiters: Array<Waiter<Message>> = []
  #closeWaiters: Array<() => void> = []
  onMessage: ((message: Message) => void) | undefined

  constructor(
    readonly socket: Socket,
    { keep = true }: { keep?: boolean } = {},
  ) {
    this.keep = keep
    const decoder = new MessageDecoder({ maxFrameBytes: 16 * 1024 * 1024 })
    const sink = {
      frame: (message: unknown) => this.#deliver(message as Message),
      error: (error: ProtocolError) => {
        this.decodeErrors.push(error)
      },
    }
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, sink))
    socket.once('close', () => {
      this.closed = true
      for (const waiter of this.#waiters.splice(0))
        waiter.reject(new Error('connection closed while waiting for a message'))
      for (const resolve of this.#closeWaiters.splice(0)) resolve()
    })
  }

  static async connect(port: number, options?: { keep?: boolean }): Promise<MessageClient> {
    return new MessageClient(await connectTo(port), options)
  }

  #deliver(message: Message): void {
    const type = typeof message?.type === 'string' ? message.type : '?'
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1)
    if (this.keep) this.received.push(message)
    this.onMessage?.(message)
    for (const waiter of [...this.#waiters]) {
      if (waiter.test(message)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        waiter.resolve(message)
      }
    }
  }

  count(type: string): number {
    return this.counts.get(type) ?? 0
  }

  send(message: Message): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return false
    this.sent++
    return this.socket.write(encodeMessage(message))
  }

  /** The first message, already received (when kept) or still to come, that passes `test`. */
  next(
    test: (message: Message) => boolean,
    timeout = 10_000,
    what = 'a message',
  ): Promise<Message> {
    const seen = this.keep ? this.received.find(test) : undefined
    if (seen) return Promise.resolve(seen)
    if (this.closed) return Promise.reject(new Error(`connection closed before ${what}`))
    const waiting = new Promise<Message>((resolve, reject) =>
      this.#waiters.push({ test, resolve, reject }),
    )
    return withTimeout(waiting, timeout, what)
  }

  nextOfType(type: string, timeout?: number): Promise<Message> {
    return this.next((m) => m.type === type, timeout, `a "${type}" message`)
  }

  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise((resolve) => this.#closeWaiters.push(resolve))
  }

  close(): void {
    this.socket.destroy()
  }
}

export const HEARTBEAT = 0x01
export const PONG = 0x02

/** A binary-frames client of the binary port, decoding with the package's own decoder. */
export class BinaryClient {
  readonly frames: BinaryFrame[] = []
  readonly decodeErrors: ProtocolError[] = []
  pongs = 0
  closed = false
  #pongWaiters: Array<() => void> = []

  constructor(readonly socket: Socket) {
    const decoder = new BinaryFrameDecoder({ maxFrameBytes: 16 * 1024 * 1024, copy: true })
    const sink = {
      frame: (frame: BinaryFrame) => {
        if (frame.type === PONG) {
          this.pongs++
          this.#pongWaiters.shift()?.()
        } else this.frames.push(frame)
      },
      error: (error: ProtocolError) => {
        this.decodeErrors.push(error)
      },
    }
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, sink))
    socket.once('close', () => {
      this.closed = true
    })
  }

  static async connect(port: number): Promise<BinaryClient> {
    return new BinaryClient(await connectTo(port))
  }

  /** Sends one heartbeat and waits for its pong. */
  async heartbeat(timeout = 10_000): Promise<void> {
    const pong = new Promise<void>((resolve) => this.#pongWaiters.push(resolve))
    this.socket.write(HEARTBEAT_FRAME)
    await withTimeout(pong, timeout, 'a pong for a heartbeat')
  }

  close(): void {
    this.socket.destroy()
  }
}

export const HEARTBEAT_FRAME: Buffer = encodeFrame(HEARTBEAT, new Uint8Array(0))

/** The binary port's upgrade frame to mux (type 0x30, empty), which the server echoes. */
export const MUX_UPGRADE: Buffer = encodeFrame(0x30, new Uint8Array(0))

/**
 * A mux session on the binary port: the upgrade frame, the server's answer to it consumed
 * exactly, then `@verb-tcp/mux`'s dialler on the rest of the connection.
 */
export async function muxSession(socket: Socket, timeout = 10_000): Promise<MuxSession> {
  socket.write(MUX_UPGRADE)
  const answer = await withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      const read = () => {
        const bytes = socket.read(MUX_UPGRADE.length) as Buffer | null
        if (bytes) {
          socket.removeListener('readable', read)
          resolve(bytes)
        }
      }
      socket.on('readable', read)
      socket.once('close', () => reject(new Error('closed before the mux upgrade was answered')))
    }),
    timeout,
    'the mux upgrade answer',
  )
  if (!answer.equals(MUX_UPGRADE))
    throw new Error(`unexpected upgrade answer ${answer.toString('hex')}`)
  const session = createSession(socket, { role: 'dialler', keepAliveInterval: 0 })
  // A hostile or dying session's error is a figure, not a crash of the suite.
  session.on('error', () => {})
  return session
}
