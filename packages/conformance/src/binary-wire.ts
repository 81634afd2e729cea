import { showBytes } from './describe.ts'
import { fail } from './errors.ts'
import type { Peer } from './peer.ts'
import type { CaseContext } from './types.ts'

/** binary-frames by hand: `u16 type | u32 length | u16 flags`, big-endian, then the payload. */

export const HEARTBEAT = 0x01
export const PONG = 0x02
export const DATA = 0x10

export interface Frame {
  type: number
  flags: number
  payload: Buffer
}

export function header(type: number, length: number, flags = 0): Buffer {
  const h = Buffer.alloc(8)
  h.writeUInt16BE(type, 0)
  h.writeUInt32BE(length, 2)
  h.writeUInt16BE(flags, 6)
  return h
}

export function binFrame(type: number, payload: Uint8Array = Buffer.alloc(0), flags = 0): Buffer {
  return Buffer.concat([header(type, payload.length, flags), payload])
}

/** Largest reply payload we are willing to wait for. */
const MAX_REPLY = 64 * 1024 * 1024

/** One complete frame off the received bytes, or undefined. */
export function takeFrame(peer: Peer, sent: string): Frame | undefined {
  const data = peer.data
  if (data.length < 8) return undefined
  const length = data.readUInt32BE(2)
  if (length > MAX_REPLY)
    fail(
      sent,
      'well-formed binary-frames replies',
      `a reply header ${showBytes(data.subarray(0, 8))} declaring ${length} bytes`,
    )
  if (data.length < 8 + length) return undefined
  const f = {
    type: data.readUInt16BE(0),
    flags: data.readUInt16BE(6),
    payload: Buffer.from(data.subarray(8, 8 + length)),
  }
  peer.consume(8 + length)
  return f
}

export function showFrame(f: Frame): string {
  return `type 0x${f.type.toString(16).padStart(2, '0')} flags 0x${f.flags.toString(16).padStart(4, '0')} payload ${showBytes(f.payload)}`
}

/** A client of the binary port: heartbeats answered with PONG "pong", DATA echoed with its flags. */
export class BinaryClient {
  readonly peer: Peer
  readonly timeout: number
  readonly frames: Frame[] = []

  constructor(peer: Peer, timeout: number) {
    this.peer = peer
    this.timeout = timeout
  }

  static async open(t: CaseContext): Promise<BinaryClient> {
    return new BinaryClient(await t.connect(), t.timeout)
  }

  send(bytes: Uint8Array): Promise<void> {
    return this.peer.write(bytes)
  }

  /** The next frame the server sends. */
  async next(
    sent: string,
    ms = this.timeout,
  ): Promise<{ value: Frame } | { end: 'closed' | 'timeout' }> {
    return this.peer.until(() => {
      const f = takeFrame(this.peer, sent)
      if (f) this.frames.push(f)
      return f
    }, ms)
  }

  /** Requires the next frame to be exactly `type`, `flags`, `payload`. */
  async expectFrame(sent: string, want: Frame): Promise<void> {
    const r = await this.next(sent)
    const expected = showFrame(want)
    if ('end' in r)
      fail(
        sent,
        expected,
        r.end === 'closed' ? 'the connection closed' : `nothing within ${this.timeout} ms`,
      )
    const f = r.value
    if (f.type !== want.type || f.flags !== want.flags || !f.payload.equals(want.payload))
      fail(sent, expected, showFrame(f))
  }

  /** A heartbeat answered with PONG "pong". */
  async heartbeat(sent = 'a heartbeat'): Promise<void> {
    await this.send(binFrame(HEARTBEAT))
    await this.expectFrame(sent, { type: PONG, flags: 0, payload: Buffer.from('pong') })
  }

  /** Requires the connection to close within `ms`, with no frame in between. */
  async expectClose(sent: string, ms = this.timeout): Promise<void> {
    const r = await this.next(sent, ms)
    if ('value' in r) fail(sent, 'the connection closed, with no answer', showFrame(r.value))
    if (r.end === 'timeout') fail(sent, `the connection closed within ${ms} ms`, 'it stayed open')
  }
}
