/**
 * Test helpers with the shapes of verb's `verb/testing`, so the seed's tests run as written.
 *
 * @example
 * ```ts
 * import { createTCPClient, createTCPServer } from '@verb-tcp/core/testing'
 *
 * const server = createTCPServer({ port: 0, onConnection: (socket) => socket.write('hi') })
 * const client = createTCPClient()
 * await client.connect(server.address().port, 'localhost')
 * ```
 * @packageDocumentation
 */
import type { AddressInfo } from 'node:net'
import { Socket } from 'node:net'
import { createServer, type TcpServer } from './server.ts'
import type { TcpOptions } from './types.ts'

export interface TestServerOptions extends Omit<TcpOptions, 'tls'> {
  /** @default 0 */
  port?: number
  /** An IP literal, so the server is bound before `createTCPServer` returns. @default '127.0.0.1' */
  host?: string
}

export interface TestServer extends TcpServer {
  /** The bound address: bound synchronously, so never `null` before `close()`. */
  address(): AddressInfo
  /** Resolves when the server is listening; rejects if it could not bind. */
  readonly ready: Promise<AddressInfo>
}

/**
 * Starts a TCP server on loopback and returns it already bound, so `server.address()` works on
 * the next line. Options are the `tcp` block's, plus `port` and `host`, flat as in the seed.
 */
export function createTCPServer(options: TestServerOptions = {}): TestServer {
  const { port = 0, host = '127.0.0.1', ...tcp } = options
  const server = createServer().withOptions({ port, host, tcp })
  const ready = server.listen()
  // A failed bind surfaces on `ready` and through `address()` being null; never as a crash.
  ready.catch(() => {})
  return Object.assign(server, { ready }) as TestServer
}

/**
 * A real `net.Socket` whose `connect(port, host)` returns a promise that settles when the
 * connection is up (or fails), so `await client.connect(...)` means connected. It is the only
 * difference from a plain socket: pass it to anything that takes a socket.
 *
 * Errors after the connection is up (a reset by the server, say) are kept in `lastError`
 * instead of crashing the test process for want of an `'error'` listener.
 */
export class TestClient extends Socket {
  lastError: Error | undefined

  constructor() {
    super()
    this.on('error', (error) => {
      this.lastError = error
    })
  }

  // biome-ignore lint/suspicious/noExplicitAny: net.Socket#connect has many overloads
  override connect(...args: any[]): any {
    const connected = new Promise<this>((resolve, reject) => {
      const onError = (error: Error) => reject(error)
      this.once('error', onError)
      this.once('connect', () => {
        this.off('error', onError)
        resolve(this)
      })
    })
    connected.catch(() => {})
    super.connect(...(args as Parameters<Socket['connect']>))
    return connected
  }
}

export function createTCPClient(): TestClient {
  return new TestClient()
}
