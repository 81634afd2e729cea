import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { MessageHandler } from '@verb-tcp/json-frames'
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
