import { showBytes, showValue } from './describe.ts'
import { fail } from './errors.ts'
import { Peer } from './peer.ts'
import type { CaseContext } from './types.ts'

/** The demo's binary-port upgrade to mux: a binary-frames header of type 0x30, empty payload. */
export const DEMO_MUX_UPGRADE: Uint8Array = Uint8Array.from([0, 0x30, 0, 0, 0, 0, 0, 0])

/**
 * Finds out whether the server speaks mux from the first byte (its hello arrives unasked) or
 * needs the demo's upgrade frame first (it echoes the 8 bytes). A server that does neither is
 * taken to speak mux from the first byte (a legacy server written from the verb docs).
 */
export async function detectMuxUpgrade(
  host: string,
  port: number,
  timeout: number,
): Promise<Uint8Array> {
  const peer = await Peer.open(host, port, timeout)
  try {
    const first = await peer.until(
      () => (peer.data.length >= 8 ? true : undefined),
      Math.min(300, timeout),
    )
    if ('value' in first) return new Uint8Array(0)
    await peer.write(DEMO_MUX_UPGRADE)
    const echoed = await peer.until(() => (peer.data.length >= 8 ? true : undefined), timeout)
    if ('value' in echoed && Buffer.from(DEMO_MUX_UPGRADE).equals(peer.data.subarray(0, 8)))
      return DEMO_MUX_UPGRADE
    return new Uint8Array(0)
  } finally {
    peer.destroy()
  }
}

/** mux by hand: `u32 stream id | u32 length`, big-endian, then the payload; JSON control on 0. */

export const COMPACT_ID = 0xffffffff
export const MIN_WINDOW = 16384

// biome-ignore lint/suspicious/noExplicitAny: control messages are untrusted JSON, read field by field
export type Control = Record<string, any>

export function muxFrame(id: number, payload: Uint8Array | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload)
  const h = Buffer.alloc(8)
  h.writeUInt32BE(id, 0)
  h.writeUInt32BE(body.length, 4)
  return Buffer.concat([h, body])
}

export function control(message: Control): Buffer {
  return muxFrame(0, JSON.stringify(message))
}

export interface HelloOptions {
  initialWindow?: number
  sessionWindow?: number
  maxStreams?: number
  maxFrameSize?: number
  features?: string[]
}

export function hello(options: HelloOptions = {}): Buffer {
  return control({
    type: 'hello',
    version: 1,
    initialWindow: options.initialWindow ?? 1024 * 1024,
    sessionWindow: options.sessionWindow ?? 4 * 1024 * 1024,
    maxStreams: options.maxStreams ?? 1000,
    maxFrameSize: options.maxFrameSize ?? 65536,
    features: options.features ?? [],
  })
}

export const create = (streamId: number, streamType = 'echo', metadata: object = {}) =>
  control({ type: 'stream_create', streamId, streamType, metadata })
export const closeStream = (streamId: number) => control({ type: 'stream_close', streamId })
export const reset = (streamId: number, code = 8) =>
  control({ type: 'stream_reset', streamId, code })
export const windowUpdate = (streamId: number, limit: number) =>
  control({ type: 'window_update', streamId, limit })

/** One compact window-update frame (stream 0xFFFFFFFF) with one record per entry. */
export function compactUpdate(records: readonly [streamId: number, limit: number][]): Buffer {
  const body = Buffer.alloc(13 * records.length)
  records.forEach(([id, limit], i) => {
    body.writeUInt8(1, i * 13)
    body.writeUInt32BE(id, i * 13 + 1)
    body.writeUInt32BE(Math.floor(limit / 2 ** 32), i * 13 + 5)
    body.writeUInt32BE(limit % 2 ** 32, i * 13 + 9)
  })
  return muxFrame(COMPACT_ID, body)
}

/** Largest frame we accept from a server before calling its bytes garbage. */
const MAX_REPLY_FRAME = 32 * 1024 * 1024

/** What the client has seen of a session so far. */
export interface MuxState {
  /** The server's first frame, if it was a hello. */
  hello?: Control
  /** Every control message in order. */
  controls: Control[]
  /** Data bytes received per stream. */
  bytes: Map<number, number>
  /** Data received per stream (kept while small: up to 1 MiB a stream). */
  chunks: Map<number, Buffer[]>
  /** Largest data frame payload seen. */
  largestFrame: number
  /** Compact window-update records received ([stream id, limit]). */
  compact: [number, number][]
}

/** A client of a mux session, written from the wire description alone. */
export class MuxClient {
  readonly peer: Peer
  readonly timeout: number
  readonly state: MuxState = {
    controls: [],
    bytes: new Map(),
    chunks: new Map(),
    largestFrame: 0,
    compact: [],
  }
  #first = true

  constructor(peer: Peer, timeout: number) {
    this.peer = peer
    this.timeout = timeout
  }

  /**
   * Connects, sends the upgrade (and waits for its echo) if the server needs one, then `first`
   * (our hello, or nothing for a legacy peer that never says hello).
   */
  static async open(t: CaseContext, first: Uint8Array | null = hello()): Promise<MuxClient> {
    const peer = await t.connect()
    const c = new MuxClient(peer, t.timeout)
    if (t.muxUpgrade.length > 0) {
      await peer.write(t.muxUpgrade)
      const r = await peer.until(
        () => (peer.data.length >= t.muxUpgrade.length ? true : undefined),
        t.timeout,
      )
      if (
        'end' in r ||
        !Buffer.from(t.muxUpgrade).equals(peer.data.subarray(0, t.muxUpgrade.length))
      )
        fail(showBytes(t.muxUpgrade), 'the upgrade echoed', showBytes(peer.data))
      peer.consume(t.muxUpgrade.length)
    }
    if (first) await peer.write(first)
    return c
  }

  send(bytes: Uint8Array): Promise<void> {
    return this.peer.write(bytes)
  }

  /** Parses every complete frame received so far into `state`. */
  pump(sent: string): void {
    for (;;) {
      const data = this.peer.data
      if (data.length < 8) return
      const id = data.readUInt32BE(0)
      const length = data.readUInt32BE(4)
      if (length > MAX_REPLY_FRAME)
        fail(sent, 'well-formed mux frames', `a frame header ${showBytes(data.subarray(0, 8))}`)
      if (data.length < 8 + length) return
      const payload = Buffer.from(data.subarray(8, 8 + length))
      this.peer.consume(8 + length)
      const first = this.#first
      this.#first = false
      if (id === 0) {
        let message: unknown
        try {
          message = JSON.parse(payload.toString('utf8'))
        } catch {
          fail(sent, 'JSON control messages on stream 0', `control payload ${showBytes(payload)}`)
        }
        if (typeof message !== 'object' || message === null)
          fail(sent, 'control messages that are objects', showBytes(payload))
        const m = message as Control
        if (first && m.type === 'hello') this.state.hello = m
        this.state.controls.push(m)
        // A keepalive ping from the server is answered, as any peer must.
        if (m.type === 'ping' && this.state.hello)
          void this.peer.write(control({ type: 'pong', id: m.id }))
      } else if (id === COMPACT_ID) {
        for (let at = 0; at + 13 <= payload.length; at += 13)
          this.state.compact.push([
            payload.readUInt32BE(at + 1),
            payload.readUInt32BE(at + 5) * 2 ** 32 + payload.readUInt32BE(at + 9),
          ])
      } else {
        this.state.bytes.set(id, (this.state.bytes.get(id) ?? 0) + length)
        this.state.largestFrame = Math.max(this.state.largestFrame, length)
        const list = this.state.chunks.get(id) ?? []
        if ((this.state.bytes.get(id) ?? 0) <= 1024 * 1024) list.push(payload)
        this.state.chunks.set(id, list)
      }
    }
  }

  /** Waits until `check` (run on the state after each arrival) returns a value. */
  wait<T>(
    check: (s: MuxState) => T | undefined,
    sent: string,
    ms = this.timeout,
  ): Promise<{ value: T } | { end: 'closed' | 'timeout' }> {
    return this.peer.until(() => {
      this.pump(sent)
      return check(this.state)
    }, ms)
  }

  /** Like `wait`, but a close or a timeout is the case's failure. */
  async expect<T>(
    check: (s: MuxState) => T | undefined,
    sent: string,
    expected: string,
    ms = this.timeout,
  ): Promise<T> {
    const r = await this.wait(check, sent, ms)
    if ('value' in r) return r.value
    fail(
      sent,
      expected,
      `${r.end === 'closed' ? 'the connection closed' : `nothing within ${ms} ms`}${this.#last()}`,
    )
  }

  /** The server's hello (its first frame), required. */
  async serverHello(sent = 'our hello'): Promise<Control> {
    return this.expect(
      (s) => s.hello ?? (s.controls.length > 0 || s.bytes.size > 0 ? null : undefined),
      sent,
      'a hello as the first frame',
    ).then((h) => {
      if (!h)
        fail(
          sent,
          "a hello as the server's first frame",
          showValue(this.state.controls[0] ?? 'data'),
        )
      return h
    })
  }

  bytesOf(id: number): number {
    return this.state.bytes.get(id) ?? 0
  }

  dataOf(id: number): Buffer {
    return Buffer.concat(this.state.chunks.get(id) ?? [])
  }

  control(match: (m: Control) => boolean): Control | undefined {
    return this.state.controls.find(match)
  }

  /** Waits for the stream's echo of `length` bytes and the server's stream_close. */
  async expectEcho(id: number, payload: Buffer, sent: string): Promise<void> {
    await this.expect(
      (s) =>
        (s.bytes.get(id) ?? 0) >= payload.length &&
        this.control((m) => m.type === 'stream_close' && m.streamId === id)
          ? true
          : undefined,
      sent,
      `${payload.length} bytes echoed on stream ${id}, then its stream_close`,
    )
    if (!this.dataOf(id).equals(payload))
      fail(
        sent,
        `the same ${payload.length} bytes back on stream ${id}`,
        `${showBytes(this.dataOf(id))}`,
      )
  }

  /** Sends a ping and requires its pong. */
  async ping(id: number, sent = `ping ${id}`): Promise<void> {
    await this.send(control({ type: 'ping', id }))
    await this.expect(
      (s) => s.controls.find((m) => m.type === 'pong' && m.id === id),
      sent,
      `a pong with id ${id}`,
    )
  }

  /**
   * Requires a goaway with `code`, then the connection closed. A connection reset may destroy
   * the goaway before we read it (the server closed with our bytes unread): then the close is
   * enough, but a clean close without a goaway is not.
   */
  async expectGoAway(code: number, sent: string): Promise<void> {
    const r = await this.wait((s) => s.controls.find((m) => m.type === 'goaway'), sent)
    if ('end' in r) {
      if (r.end === 'closed' && this.peer.reset) return
      fail(
        sent,
        `a goaway with code ${code}, then a close`,
        `${r.end === 'closed' ? 'a close without a goaway' : `nothing within ${this.timeout} ms`}${this.#last()}`,
      )
    }
    if (r.value.code !== code) fail(sent, `a goaway with code ${code}`, showValue(r.value))
    if (!(await this.peer.waitEnd(this.timeout)))
      fail(sent, 'the connection closed after the goaway', 'it stayed open')
  }

  #last(): string {
    const last = this.state.controls.at(-1)
    return last ? ` (last control: ${showValue(last)})` : ''
  }
}
