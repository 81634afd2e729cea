import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { MessageHandler } from '@verb-tcp/json-frames'
import { expect } from 'vitest'
import { defer } from './helpers.ts'

// biome-ignore lint/suspicious/noExplicitAny: test messages are read field by field
export type Msg = Record<string, any>

/** A json-frames client on the message port that keeps what it receives. */
export class MessageClient {
  readonly socket: Socket
  readonly handler: MessageHandler<Msg>
  readonly received: Msg[] = []
  closed = false
  #waiters: (() => void)[] = []

  private constructor(socket: Socket) {
    this.socket = socket
    this.handler = new MessageHandler<Msg>(socket)
    socket.on('error', () => {})
    this.handler.on('message', (m) => {
      this.received.push(m)
      this.#wake()
    })
    socket.on('close', () => {
      this.closed = true
      this.#wake()
    })
    defer(() => socket.destroy())
  }

  static async connect(port: number): Promise<MessageClient> {
    const socket = connect(port, '127.0.0.1')
    const client = new MessageClient(socket)
    await once(socket, 'connect')
    return client
  }

  /** Connects and waits for the welcome; `id` is the connection id the server gave. */
  static async join(port: number): Promise<MessageClient & { id: string }> {
    const client = await MessageClient.connect(port)
    const welcome = await client.next((m) => m.type === 'welcome')
    return Object.assign(client, { id: welcome.connectionId as string })
  }

  send(message: Msg): void {
    this.handler.sendMessage(message)
  }

  /** The first received message (already or still to come) that matches; fails if the connection closes first. */
  async next(match: (m: Msg) => boolean): Promise<Msg> {
    for (;;) {
      const found = this.received.find(match)
      if (found) return found
      if (this.closed)
        throw new Error(`closed before the expected message; got ${JSON.stringify(this.received)}`)
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  async untilClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  #wake(): void {
    for (const resolve of this.#waiters.splice(0)) resolve()
  }
}

/**
 * `from` (a member of room `lobby`) sends 5 room messages and 5 broadcasts; `to` (a member on
 * another process) must get each exactly once, in order, and `from` none of its own. Messages
 * from one sender travel in order, so once the last has arrived a duplicate of an earlier one
 * would have too.
 */
export async function expectOnceInOrder(from: Joined, to: Joined): Promise<void> {
  for (let seq = 1; seq <= 5; seq++) {
    from.send({ type: 'room_message', room: 'lobby', data: { seq } })
    from.send({ type: 'broadcast', data: { seq } })
  }
  await to.next((m) => m.type === 'broadcast' && m.data?.seq === 5)
  await to.next((m) => m.type === 'room_message' && m.data?.seq === 5)
  const seqs = (type: string) =>
    to.received.filter((m) => m.type === type && m.data?.seq).map((m) => m.data.seq)
  expect(seqs('room_message')).toEqual([1, 2, 3, 4, 5])
  expect(seqs('broadcast')).toEqual([1, 2, 3, 4, 5])
  expect(from.received.filter((m) => m.from === from.id)).toEqual([])
}

type Joined = MessageClient & { id: string }
