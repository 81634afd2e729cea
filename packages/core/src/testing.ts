/**
 * Test helpers with the shapes of verb's `verb/testing`, so the verb docs' tests run as written.
 *
 * @example
 * ```ts
 * import { createTCPClient, createTCPServer } from '@verb-tcp/core/testing'
 *
 * const server = createTCPServer({ port: 0, onConnection: (socket) => socket.write('hi') })
 * const client = createTCPClient()
 * await client.connect(server.address().port, 'localhost')
 *
 * // A codec must decode the same frames however the bytes are cut:
 * for (const chunks of everySplit(wire)) expect(decodeAll(decoder(), chunks).frames).toEqual(frames)
 * ```
 * @packageDocumentation
 */
import type { AddressInfo } from 'node:net'
import { Socket } from 'node:net'
import {
  type BinaryInput,
  type DecodeResult,
  type DecodeSink,
  type SyncDecoder,
  toBuffer,
} from './codec/decoder.ts'
import { createServer, type TcpServer } from './server.ts'
import type { TCPSocket, TcpOptions } from './types.ts'

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
 * the next line. Options are the `tcp` block's, plus `port` and `host`, flat as in the verb docs.
 */
export function createTCPServer(options: TestServerOptions = {}): TestServer {
  const { port = 0, host = '127.0.0.1', ...tcp } = options
  const server = createServer().withOptions({ port, host, tcp })
  const ready = server.listen()
  // A failed bind surfaces on `ready` and through `address()` being null; never as a crash.
  ready.catch(() => {})
  const test = Object.assign(server, { ready }) as TestServer
  openServers.add(test)
  server.onClose(() => openServers.delete(test))
  return test
}

// What the helpers opened and is not closed yet, for `closeAll`.
const openServers = new Set<TestServer>()
const openClients = new Set<TestClient>()
const deferred: Array<() => unknown> = []

/**
 * Registers a cleanup for the next `closeAll()`: whatever a test opened that the helpers do not
 * know (a pool, a plain `net.Server`, a mock, a process listener). Cleanups run latest first.
 */
export function defer(cleanup: () => unknown): void {
  deferred.push(cleanup)
}

/**
 * Runs the `defer`red cleanups, then closes whatever `createTCPServer` and `createTCPClient`
 * made that is still open: clients are destroyed and servers closed with no grace period (their
 * connections destroyed). Made for `afterEach(closeAll)`, so a failing test leaves nothing
 * listening. A cleanup that throws does not stop the others; the first error is rethrown.
 */
export async function closeAll(): Promise<void> {
  let failure: { error: unknown } | undefined
  for (const cleanup of deferred.splice(0).reverse()) {
    try {
      await cleanup()
    } catch (error) {
      failure ??= { error }
    }
  }
  for (const client of openClients) client.destroy()
  openClients.clear()
  const servers = [...openServers]
  openServers.clear()
  await Promise.all(servers.map((server) => server.close({ gracePeriod: 0 })))
  if (failure) throw failure.error
}

/**
 * A loopback test server (`createTCPServer`) whose connections go to `onConnection`; resolves
 * with its port once listening. Closed by `closeAll`.
 */
export async function listenLoopback(
  onConnection: (socket: TCPSocket) => unknown,
): Promise<number> {
  return (await createTCPServer({ onConnection }).ready).port
}

/** A client connected to `127.0.0.1:port` (a `TestClient`), destroyed by `closeAll`. */
export function connectLoopback(port: number): Promise<TestClient> {
  return createTCPClient().connect(port, '127.0.0.1')
}

/**
 * Two connected ends of one loopback TCP connection: `client`, and `server`, the socket the
 * server accepted for it. Everything is closed by `closeAll`.
 */
export async function loopbackPair(): Promise<{ client: TestClient; server: TCPSocket }> {
  let accept: ((socket: TCPSocket) => void) | undefined
  const accepted = new Promise<TCPSocket>((resolve) => {
    accept = resolve
  })
  const port = await listenLoopback((socket) => accept?.(socket))
  const client = await connectLoopback(port)
  return { client, server: await accepted }
}

/**
 * Lets `n` event-loop turns pass (`setImmediate`), so that I/O already delivered to the process
 * is handled. For checks that something did NOT happen: bounded by turns of the loop, not by a
 * guess at wall time. Prefer waiting for an event that must come after it, when there is one.
 */
export async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
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
    openClients.add(this)
    this.once('close', () => openClients.delete(this))
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

/** Every way to cut `bytes` into two chunks (either may be empty), as `bytes.length + 1` lists. */
export function everySplit(bytes: Uint8Array): Buffer[][] {
  const buf = toBuffer(bytes)
  const out: Buffer[][] = []
  for (let i = 0; i <= buf.length; i++) out.push([buf.subarray(0, i), buf.subarray(i)])
  return out
}

/**
 * Cuts `bytes` into chunks at the given fractions of its length (each from 0 to 1; repeats and
 * order do not matter). Made for property tests: an arbitrary array of doubles is an arbitrary
 * chunking, 1-byte and empty-looking ones included.
 */
export function cutAt(bytes: Uint8Array, points: readonly number[]): Buffer[] {
  const buf = toBuffer(bytes)
  const at = [...new Set(points.map((p) => Math.floor(p * buf.length)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of [...at, buf.length]) {
    out.push(buf.subarray(prev, p))
    prev = p
  }
  return out
}

export interface UntilOptions {
  /** Event-loop turns (`setImmediate`) to try first. @default 10_000 */
  turns?: number
  /** Then this many waits of `interval` ms, for progress behind a timer. @default 1000 */
  waits?: number
  /** @default 10 */
  interval?: number
}

/**
 * Resolves once `predicate()` is true; rejects when it is still false after a bounded number of
 * tries. First spins on the event loop, which sees socket I/O progress soonest; then polls with
 * timers, since some progress waits on a timer no spinning brings forward (a kernel zero-window
 * probe, an idle timeout). At most `turns` turns plus `waits` × `interval` ms: 10 s by default.
 */
export async function until(predicate: () => boolean, options: UntilOptions = {}): Promise<void> {
  const { turns = 10_000, waits = 1000, interval = 10 } = options
  for (let i = 0; i < turns; i++) {
    if (predicate()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  for (let i = 0; i < waits; i++) {
    if (predicate()) return
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
  if (predicate()) return
  throw new Error(`condition not reached after ${turns} turns and ${waits} waits of ${interval} ms`)
}

export interface WriteUntilPausedOptions {
  /** The server's end of the connection, once accepted (it may not be yet on the first write). */
  server: () => Socket | undefined
  /** How many requests the server has answered so far. */
  answered: () => number
  /** Requests to try before giving up. @default 200 */
  max?: number
}

/**
 * Drives a server into backpressure: writes `request` on `client` one at a time, each once the
 * previous one is answered, until the server's socket stops reading (`isPaused()`), which a
 * server does when its replies are not read. Pause `client` first so they are not. Resolves with
 * the number of requests written; rejects if the server still reads after `max` of them.
 */
export async function writeUntilPaused(
  client: Socket,
  request: Uint8Array,
  options: WriteUntilPausedOptions,
): Promise<number> {
  const { server, answered, max = 200 } = options
  const paused = () => server()?.isPaused() === true
  let sent = 0
  while (sent < max && !paused()) {
    client.write(request)
    sent++
    await until(() => answered() === sent || paused())
  }
  if (!paused()) throw new Error(`the server still reads after ${sent} requests`)
  return sent
}

export interface WorkPerRoundTripOptions {
  /** One round trip of the well-behaved client: resolves once its answer is back. */
  roundTrip: () => Promise<unknown>
  /** The work the server has done so far: frames decoded, requests answered. */
  work: () => number
  /** Stops early once `work()` reaches it: the flood is handled, later trips measure nothing. */
  total?: number
  /** Round trips to make. @default 20 */
  trips?: number
}

export interface WorkPerRoundTrip {
  /** Round trips made: `trips` unless the flood was handled before. */
  trips: number
  /** The most work the server did while one round trip waited. */
  most: number
}

/**
 * Fairness under a flood, measured as work rather than time: makes round trips of a
 * well-behaved client one after another while other clients flood the server, and returns the
 * most work the server did while one of them waited. A server that serves its connections in
 * bounded turns keeps that to a few batches per flooder; one that handles a flooder's whole read
 * (or its whole paused buffer) first does thousands of frames. Start the flood, wait until some
 * of it is handled, then call this; assert `trips` too, so a flood that ended early does not
 * pass for a fair one.
 */
export async function workPerRoundTrip(
  options: WorkPerRoundTripOptions,
): Promise<WorkPerRoundTrip> {
  const { roundTrip, work, total = Number.POSITIVE_INFINITY, trips: max = 20 } = options
  let trips = 0
  let most = 0
  while (trips < max && work() < total) {
    const before = work()
    await roundTrip()
    trips++
    most = Math.max(most, work() - before)
  }
  return { trips, most }
}

export interface CheckDecoderOptions {
  /** Reads how many bytes the decoder holds, checked after every push. */
  bufferedBytes?: () => number
  /** The most it may hold between pushes. @default Infinity */
  maxBufferedBytes?: number
  /**
   * Makes the sink return `false` (stop) after every `stopEvery`-th frame or recoverable error,
   * and pushes the rest of the chunk again, as `attachDecoder` does when a batch ends mid-chunk:
   * the frames must come out the same, and a stopped `push` must report a byte count inside the
   * chunk. 1 stops after every frame. @default never
   */
  stopEvery?: number
}

/**
 * Decodes `chunks` (then ends the input) while checking the `SyncDecoder` contract, for tests of
 * a codec of your own: `push` and `end` never throw for any bytes, every error is a
 * `ProtocolError` with an `ERR_*` code, at most one error is fatal and nothing is delivered after
 * it, and the decoder never holds more than `maxBufferedBytes`. Throws an `Error` naming the
 * first breach; otherwise returns the frames and errors, as `decodeAll` does.
 */
export function checkDecoder<T>(
  decoder: SyncDecoder<T>,
  chunks: Iterable<BinaryInput>,
  options: CheckDecoderOptions = {},
): DecodeResult<T> {
  const {
    bufferedBytes,
    maxBufferedBytes = Number.POSITIVE_INFINITY,
    stopEvery = Number.POSITIVE_INFINITY,
  } = options
  const result: DecodeResult<T> = { frames: [], errors: [] }
  let fatal = false
  let delivered = 0
  /** The sink returned false during the current push. */
  let stopped = false
  const stop = (): boolean => {
    stopped = ++delivered % stopEvery === 0
    return !stopped
  }
  const sink: DecodeSink<T> = {
    frame(value) {
      if (fatal) throw new Error('a frame was delivered after a fatal error')
      if (stopped) throw new Error('a frame was delivered after the sink asked to stop')
      result.frames.push(value)
      return stop()
    },
    error(error) {
      if (fatal) throw new Error(`an error was delivered after a fatal error: ${error?.code}`)
      if (stopped)
        throw new Error(`an error was delivered after the sink asked to stop: ${error?.code}`)
      if (error?.name !== 'ProtocolError' || !/^ERR_[A-Z0-9_]+$/.test(String(error.code))) {
        throw new Error(`not a coded ProtocolError: ${String(error)}`)
      }
      result.errors.push(error)
      if (!error.recoverable) {
        fatal = true
        return false
      }
      return stop()
    },
  }
  const pushAll = (chunk: BinaryInput) => {
    let rest = toBuffer(chunk)
    for (;;) {
      stopped = false
      const used = decoder.push(rest, sink)
      if (typeof used !== 'number' || used >= rest.length || fatal) return
      if (!stopped) throw new Error(`push used ${used} of ${rest.length} bytes unasked`)
      if (used < 0 || !Number.isInteger(used)) throw new Error(`push returned ${used}`)
      rest = rest.subarray(used)
    }
  }
  let at = 0
  for (const chunk of chunks) {
    pushAll(chunk)
    stopped = false
    const held = bufferedBytes?.() ?? 0
    if (held > maxBufferedBytes) {
      throw new Error(`holds ${held} bytes after chunk ${at}, over ${maxBufferedBytes}`)
    }
    at++
  }
  stopped = false
  decoder.end(sink)
  return result
}
