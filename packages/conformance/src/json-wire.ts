import { showBytes, showValue } from './describe.ts'
import { fail } from './errors.ts'
import type { Peer } from './peer.ts'
import type { CaseContext } from './types.ts'

/**
 * json-frames written and read by hand, byte by byte, without the package's own codec:
 * `<ASCII decimal byte length>\n<payload>`.
 */

const LF = 0x0a
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** One frame around raw payload bytes (or a string, as UTF-8): the length counts bytes. */
export function frame(payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload)
  return Buffer.concat([Buffer.from(`${body.length}\n`, 'latin1'), body])
}

/** One frame around `JSON.stringify(value)`. */
export function message(value: unknown): Buffer {
  return frame(JSON.stringify(value))
}

/** Longest reply header accepted from a server (16 digits is far past any sane frame). */
const MAX_HEADER_DIGITS = 16

/**
 * Takes one complete frame off `peer`'s received bytes and returns its JSON value, or
 * `undefined` when no complete frame is there yet. A reply that is not canonical json-frames
 * (a bad header, a length that does not count UTF-8 bytes, invalid UTF-8 or JSON) throws.
 */
export function takeMessage(peer: Peer, sent: string): { value: unknown } | undefined {
  const data = peer.data
  let length = 0
  let i = 0
  for (; i < data.length; i++) {
    const byte = data[i] as number
    if (byte === LF) break
    if (byte < 0x30 || byte > 0x39 || (i === 1 && data[0] === 0x30) || i >= MAX_HEADER_DIGITS) {
      fail(
        sent,
        'well-formed json-frames replies',
        `a reply header ${showBytes(data.subarray(0, i + 1))}`,
      )
    }
    length = length * 10 + (byte - 0x30)
  }
  if (i === data.length) return undefined
  if (i === 0) fail(sent, 'well-formed json-frames replies', 'a reply header with no digits')
  const end = i + 1 + length
  if (data.length < end) return undefined
  const payload = data.subarray(i + 1, end)
  let text: string
  try {
    text = utf8.decode(payload)
  } catch {
    fail(sent, 'UTF-8 replies', `a reply payload that is not UTF-8: ${showBytes(payload)}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    // Typically a length counted in characters: the frame ends early or late.
    fail(
      sent,
      'each reply to be one JSON value whose length is its UTF-8 byte count',
      `a reply payload that is not JSON: ${showBytes(payload)}`,
    )
  }
  peer.consume(end)
  return { value }
}

type Json = Record<string, unknown>

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export type Wait<T> = { value: T } | { end: 'closed' | 'timeout' }

/**
 * A client of the message-port profile: `{"type":"ping","id":X}` is answered with
 * `{"type":"pong","id":X,...}` and errors are `{"type":"error","code":C,...}`. Messages the
 * case is not waiting for (a `welcome`, say) are kept in `seen` and otherwise ignored.
 */
export class JsonClient {
  readonly peer: Peer
  readonly #timeout: number
  readonly seen: unknown[] = []
  #pending: unknown[] = []

  constructor(peer: Peer, timeout: number) {
    this.peer = peer
    this.#timeout = timeout
  }

  static async open(context: CaseContext): Promise<JsonClient> {
    return new JsonClient(await context.connect(), context.timeout)
  }

  send(bytes: Uint8Array | string): Promise<void> {
    return this.peer.write(bytes)
  }

  /** Waits for a message that `match` accepts; others are set aside. */
  async next(match: (m: Json) => boolean, sent: string, ms = this.#timeout): Promise<Wait<Json>> {
    const found = this.#pending.findIndex((m) => isObject(m) && match(m))
    if (found >= 0) {
      const [m] = this.#pending.splice(found, 1)
      return { value: m as Json }
    }
    return this.peer.until(() => {
      for (;;) {
        const taken = takeMessage(this.peer, sent)
        if (!taken) return undefined
        this.seen.push(taken.value)
        if (isObject(taken.value) && match(taken.value)) return taken.value
        this.#pending.push(taken.value)
      }
    }, ms)
  }

  /** Every message received so far that no wait took, plus any complete ones still unread. */
  drain(sent: string): unknown[] {
    for (;;) {
      const taken = takeMessage(this.peer, sent)
      if (!taken) break
      this.seen.push(taken.value)
      this.#pending.push(taken.value)
    }
    const out = this.#pending
    this.#pending = []
    return out
  }

  /** Sends a ping and requires its pong (`id` echoed). */
  async ping(
    id: unknown = `p${Math.random().toString(36).slice(2)}`,
    sent?: string,
  ): Promise<void> {
    const what = sent ?? `ping ${showValue({ type: 'ping', id })}`
    if (sent === undefined) await this.send(message({ type: 'ping', id }))
    const r = await this.next((m) => m.type === 'pong' && sameJson(m.id, id), what)
    if ('value' in r) return
    const other = this.#lastError()
    fail(
      what,
      `{"type":"pong","id":${showValue(id)}} within ${this.#timeout} ms`,
      r.end === 'closed' ? `the connection closed${other}` : `no pong${other || this.#others()}`,
    )
  }

  /** Requires an `error` reply with `code`, the connection left open. */
  async expectError(code: string, sent: string): Promise<Json> {
    const r = await this.next((m) => m.type === 'error', sent)
    if ('end' in r)
      fail(
        sent,
        `an error with code ${code}`,
        r.end === 'closed'
          ? 'the connection closed without one'
          : `nothing within ${this.#timeout} ms${this.#others()}`,
      )
    if (r.value.code !== code)
      fail(
        sent,
        `an error with code ${code}`,
        `code ${showValue(r.value.code)}: ${showValue(r.value)}`,
      )
    return r.value
  }

  /**
   * Requires the server to close the connection within `ms` (an `error` reply first is fine,
   * but if there is one its code must be `code`).
   */
  async expectClose(sent: string, code: string | undefined, ms = this.#timeout): Promise<void> {
    const r = await this.next((m) => m.type === 'error', sent, ms)
    if ('value' in r && code !== undefined && r.value.code !== code)
      fail(
        sent,
        `the connection closed (an error first, if any, with code ${code})`,
        `an error with code ${showValue(r.value.code)}`,
      )
    if ('end' in r && r.end === 'closed') return
    const closed = await this.peer.waitEnd(ms)
    if (!closed)
      fail(
        sent,
        `the connection closed within ${ms} ms`,
        `it stayed open${'value' in r ? ` after ${showValue(r.value)}` : ''}`,
      )
  }

  #lastError(): string {
    const e = this.seen.findLast((m) => isObject(m) && m.type === 'error')
    return e ? ` (after ${showValue(e)})` : ''
  }

  #others(): string {
    const last = this.seen.at(-1)
    return last === undefined ? '' : ` (last message: ${showValue(last)})`
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
