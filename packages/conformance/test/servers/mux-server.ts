import type { Socket } from 'node:net'
import { pipeline } from 'node:stream'
import { createSession } from '@verb-tcp/mux'
import { type Listening, listen, proxy } from './listen.ts'

/**
 * A mux echo server for the tests: `@verb-tcp/mux`'s session (acceptor) serving `echo` streams,
 * behind a frame-aware proxy. With no break the proxy passes every frame through; each
 * `MuxBreak` makes the pair break one rule, the way a server written from the verb docs' mux
 * would (partial frames dropped, ids unchecked, stream_close as a full close, no flow control,
 * no legacy support), or by advertising what it does not enforce.
 */
export type MuxBreak =
  | 'no-hello' // the server's hello is never sent
  | 'drop-server-close' // the server never half-closes (its stream_close is lost)
  | 'chunk-framing' // a frame cut across reads is dropped (the verb docs' decoder)
  | 'first-frame-only' // only the first frame of each read is handled
  | 'unknown-control-fatal' // an unknown control type closes the session
  | 'lenient-ids' // no id checks: any id opens a stream, data for unknown ids is ignored
  | 'ignore-stream-window' // the client's stream window is not respected
  | 'ignore-session-window' // the client's session window is not respected
  | 'drop-compact' // compact window-update records are ignored
  | 'understate-credit' // advertises 16 KiB windows, enforces 1 MiB: no flow-control error
  | 'understate-max-streams' // advertises maxStreams 10, enforces 1000
  | 'accept-any-type' // every stream type is served as echo
  | 'oversize-data-ignored' // a data frame over maxFrameSize is dropped, the session lives
  | 'oversize-control-ignored' // a control message over the limit is dropped
  | 'reset-ignored' // stream_reset is ignored: the stream goes on
  | 'data-after-close-ignored' // data after the client's stream_close is dropped, no reset
  | 'close-is-full-close' // stream_close deletes the stream at once (the verb docs)
  | 'refuse-after-close' // once a stream closed, every new stream is refused
  | 'pong-wrong-id' // pong carries another id
  | 'pong-fatal' // an unsolicited pong closes the session
  | 'goaway-kills-streams' // the client's goaway closes the session at once
  | 'bad-control-ignored' // bad control JSON or fields are dropped, the session lives
  | 'second-hello-ignored' // a second hello is dropped
  | 'no-legacy' // a client whose first frame is not a hello is cut off
  | 'legacy-parity-checked' // a legacy client's even stream id closes the session
  | 'legacy-gets-pings' // a legacy client is sent pings it cannot answer
  | 'legacy-frame-limit' // a legacy client's frame over 64 KiB closes the session

interface Frame {
  id: number
  payload: Buffer
}

const encode = (id: number, payload: Buffer) => {
  const h = Buffer.alloc(8)
  h.writeUInt32BE(id, 0)
  h.writeUInt32BE(payload.length, 4)
  return Buffer.concat([h, payload])
}
const json = (m: object) => Buffer.from(JSON.stringify(m))
// biome-ignore lint/suspicious/noExplicitAny: control messages are read field by field
type Control = Record<string, any>
const parse = (f: Frame): Control | undefined => {
  if (f.id !== 0) return undefined
  try {
    const m = JSON.parse(f.payload.toString())
    return typeof m === 'object' && m !== null ? m : undefined
  } catch {
    return undefined
  }
}

/** Splits a byte stream into frames; `leftover` is what a read left incomplete. */
class Splitter {
  buf: Buffer = Buffer.alloc(0)
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const out: Frame[] = []
    while (this.buf.length >= 8) {
      const length = this.buf.readUInt32BE(4)
      if (this.buf.length < 8 + length) break
      out.push({
        id: this.buf.readUInt32BE(0),
        payload: Buffer.from(this.buf.subarray(8, 8 + length)),
      })
      this.buf = this.buf.subarray(8 + length)
    }
    return out
  }
}

export async function startMuxServer(breaks: readonly MuxBreak[] = []): Promise<Listening> {
  const has = (b: MuxBreak) => breaks.includes(b)
  const upstream = await listen((socket) => {
    const session = createSession(socket, { role: 'acceptor' })
    session.on('error', () => {})
    session.on('stream', (stream) => {
      stream.on('error', () => {})
      if (stream.type !== 'echo' && !has('accept-any-type')) {
        stream.refuse()
        return
      }
      pipeline(stream, stream, () => {})
    })
  })
  const front = await proxy(upstream.port, (client: Socket, server: Socket) => {
    const fromClient = new Splitter()
    const fromServer = new Splitter()
    const ids = new Map<number, number>()
    const back = new Map<number, number>()
    let nextId = 1
    let clientFrames = 0
    let serverFrames = 0
    let legacy = false
    let closedOne = false
    let pingedLegacy = false
    const clientClosed = new Set<number>()
    const kill = () => {
      client.destroy()
      server.destroy()
    }
    const toClient = (id: number, payload: Buffer) => client.write(encode(id, payload))
    const c2s = (f: Frame): Buffer | null | 'kill' => {
      const first = clientFrames++ === 0
      const m = parse(f)
      if (first) legacy = m?.type !== 'hello'
      if (first && legacy && has('no-legacy')) return 'kill'
      if (f.id === 0) {
        if (m === undefined) return has('bad-control-ignored') ? null : encode(0, f.payload)
        if (f.payload.length > 16384 && has('oversize-control-ignored')) return null
        if (
          has('bad-control-ignored') &&
          ['stream_close', 'stream_reset', 'window_update'].includes(m.type) &&
          typeof m.streamId !== 'number'
        )
          return null
        const known = [
          'hello',
          'stream_create',
          'stream_close',
          'stream_reset',
          'window_update',
          'ping',
          'pong',
          'goaway',
        ]
        if (!known.includes(m.type) && has('unknown-control-fatal')) return 'kill'
        if (m.type === 'hello') {
          if (!first && has('second-hello-ignored')) return null
          if (has('ignore-stream-window')) m.initialWindow = 16 * 1024 * 1024
          if (has('ignore-session-window')) m.sessionWindow = 64 * 1024 * 1024
        }
        if (m.type === 'pong' && has('pong-fatal')) return 'kill'
        if (m.type === 'goaway' && has('goaway-kills-streams')) return 'kill'
        if (m.type === 'stream_reset' && has('reset-ignored')) return null
        if (m.type === 'stream_create') {
          if (legacy && m.streamId % 2 === 0 && has('legacy-parity-checked')) return 'kill'
          if (closedOne && has('refuse-after-close')) {
            toClient(0, json({ type: 'stream_reset', streamId: m.streamId, code: 7 }))
            return null
          }
          if (has('lenient-ids')) {
            const id = nextId
            nextId += 2
            ids.set(m.streamId, id)
            back.set(id, m.streamId)
            m.streamId = id
          }
        } else if (has('lenient-ids') && typeof m.streamId === 'number' && m.streamId !== 0) {
          const id = ids.get(m.streamId)
          if (id === undefined) return null
          m.streamId = id
        }
        if (m.type === 'stream_close') clientClosed.add(m.streamId)
        return encode(0, json(m))
      }
      if (f.id === 0xffffffff) return has('drop-compact') ? null : encode(f.id, f.payload)
      if (f.payload.length > 65536 && has('oversize-data-ignored') && !legacy) return null
      if (f.payload.length > 65536 && legacy && has('legacy-frame-limit')) return 'kill'
      let id = f.id
      if (has('lenient-ids')) {
        const mapped = ids.get(f.id)
        if (mapped === undefined) return null
        id = mapped
      }
      if (clientClosed.has(id) && has('data-after-close-ignored')) return null
      return encode(id, f.payload)
    }
    const s2c = (f: Frame): Buffer | null => {
      const first = serverFrames++ === 0
      const m = parse(f)
      if (f.id === 0 && m) {
        if (first && m.type === 'hello') {
          if (has('no-hello')) return null
          if (has('understate-credit')) {
            m.initialWindow = 16384
            m.sessionWindow = 16384
          }
          if (has('understate-max-streams')) m.maxStreams = 10
        }
        if (has('understate-credit') && m.type === 'window_update') return null
        if (m.type === 'stream_close') {
          closedOne = true
          if (has('drop-server-close')) return null
        }
        if (m.type === 'pong' && has('pong-wrong-id')) m.id = (m.id + 1) % 2 ** 32
        if (has('lenient-ids') && typeof m.streamId === 'number' && back.has(m.streamId))
          m.streamId = back.get(m.streamId)
        return encode(0, json(m))
      }
      if (f.id === 0xffffffff) return has('understate-credit') ? null : encode(f.id, f.payload)
      if (f.id !== 0) {
        if (clientClosed.has(f.id) && has('close-is-full-close')) return null
        if (legacy && has('legacy-gets-pings') && !pingedLegacy) {
          pingedLegacy = true
          toClient(0, json({ type: 'ping', id: 1 }))
        }
        return encode(has('lenient-ids') ? (back.get(f.id) ?? f.id) : f.id, f.payload)
      }
      return encode(f.id, f.payload)
    }
    client.on('data', (chunk: Buffer) => {
      const frames = fromClient.push(chunk)
      if (has('chunk-framing')) fromClient.buf = Buffer.alloc(0)
      const out: Buffer[] = []
      for (const f of has('first-frame-only') ? frames.slice(0, 1) : frames) {
        const r = c2s(f)
        if (r === 'kill') return kill()
        if (r) out.push(r)
      }
      if (has('first-frame-only')) fromClient.buf = Buffer.alloc(0)
      if (out.length > 0) server.write(Buffer.concat(out))
    })
    server.on('data', (chunk: Buffer) => {
      const out: Buffer[] = []
      for (const f of fromServer.push(chunk)) {
        const r = s2c(f)
        if (r) out.push(r)
      }
      if (out.length > 0) client.write(Buffer.concat(out))
    })
  })
  return {
    port: front.port,
    close: async () => {
      await front.close()
      await upstream.close()
    },
  }
}
