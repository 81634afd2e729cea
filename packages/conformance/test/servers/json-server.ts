import type { Socket } from 'node:net'
import { type Listening, listen } from './listen.ts'

/**
 * A json-frames server of the message-port profile written by hand for the tests, correct by
 * default; each `JsonBreak` breaks one rule, most of them the way the verb docs' example code
 * does (`parseInt` lengths, `data.length` for bytes, `data.toString()` per chunk, no limit).
 */
export type JsonBreak =
  | 'ping-without-id' // the docs' pong: {type:'pong', timestamp}, the ping's fields dropped
  | 'chunk-framing' // each read framed on its own: an incomplete frame at a read's end is dropped
  | 'char-length' // lengths counted in UTF-16 units both ways (the docs' data.length)
  | 'per-chunk-decode' // each read turned into a string on its own (the docs' data.toString())
  | 'first-frame-only' // only the first frame of each read is handled
  | 'payload-until-lf' // the payload read up to the next line feed, not by its length
  | 'silent-invalid-json' // bad JSON skipped without an error reply
  | 'strip-bom' // a UTF-8 BOM removed before JSON.parse
  | 'limit-off-by-one' // a frame of exactly the limit refused
  | 'no-limit' // no frame limit: waits for whatever length is declared
  | 'parseint-length' // the docs' parseInt(header): lenient, and NaN stalls the stream
  | 'skip-blank-lines' // a stray LF between frames ignored
  | 'lenient-utf8' // invalid UTF-8 replaced with U+FFFD (Buffer#toString)
  | 'no-type-check' // the docs' switch on message.type: non-objects are 'unknown', null crashes
  | 'error-without-id' // error replies without the request's id
  | 'no-backpressure' // reads on while replies queue
  | 'global-pause' // one connection's unread replies pause every connection
  | 'half-open' // a peer's end is ignored: the connection stays half-open

const LIMIT = 8 * 1024 * 1024

export function startJsonServer(breaks: readonly JsonBreak[] = []): Promise<Listening> {
  const has = (b: JsonBreak) => breaks.includes(b)
  const all = new Set<Socket>()
  let globalPause = 0
  return listen(
    (socket) => {
      all.add(socket)
      socket.on('close', () => all.delete(socket))
      if (globalPause > 0) socket.pause()
      let buf: Buffer = Buffer.alloc(0)
      let dead = false
      const send = (value: object) => {
        const text = JSON.stringify(value)
        const length = has('char-length') ? text.length : Buffer.byteLength(text)
        const ok = socket.write(`${length}\n${text}`)
        if (!ok && !has('no-backpressure')) {
          if (has('global-pause')) {
            globalPause++
            for (const s of all) s.pause()
            socket.once('drain', () => {
              if (--globalPause === 0) for (const s of all) s.resume()
            })
          } else {
            socket.pause()
            socket.once('drain', () => socket.resume())
          }
        }
      }
      const fatal = (code: string) => {
        dead = true
        send({ type: 'error', code, message: code })
        socket.end()
      }
      const handle = (value: unknown) => {
        if (
          typeof value !== 'object' ||
          value === null ||
          Array.isArray(value) ||
          typeof (value as { type?: unknown }).type !== 'string'
        ) {
          if (has('no-type-check')) {
            if (value === null) {
              socket.destroy()
              return
            }
            send({ type: 'error', code: 'ERR_UNKNOWN_TYPE', message: 'Unknown message type' })
            return
          }
          send({
            type: 'error',
            code: 'ERR_BAD_REQUEST',
            message: 'not an object with a string type',
          })
          return
        }
        const m = value as { type: string; id?: unknown }
        if (m.type === 'ping') {
          send(
            has('ping-without-id')
              ? { type: 'pong', timestamp: Date.now() }
              : { ...m, type: 'pong', timestamp: Date.now() },
          )
          return
        }
        send({
          type: 'error',
          code: 'ERR_UNKNOWN_TYPE',
          message: `Unknown message type: ${m.type}`,
          ...(!has('error-without-id') && m.id !== undefined && { id: m.id }),
        })
      }
      const payloadOf = (bytes: Buffer) => {
        let text: string
        if (has('lenient-utf8')) text = bytes.toString('utf8')
        else {
          try {
            text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
          } catch {
            send({ type: 'error', code: 'ERR_INVALID_UTF8', message: 'not UTF-8' })
            return
          }
        }
        if (has('strip-bom') && text.startsWith('\ufeff')) text = text.slice(1)
        let value: unknown
        try {
          value = JSON.parse(text)
        } catch {
          if (!has('silent-invalid-json'))
            send({ type: 'error', code: 'ERR_INVALID_JSON', message: 'not JSON' })
          return
        }
        handle(value)
      }
      /** One frame off `buf`: true if one was taken (or the stream is dead). */
      const step = (): boolean => {
        if (has('skip-blank-lines') && buf[0] === 0x0a) {
          buf = buf.subarray(1)
          return true
        }
        const lf = buf.indexOf(0x0a)
        let length: number
        if (has('parseint-length')) {
          if (lf < 0) return false
          length = Number.parseInt(buf.subarray(0, lf).toString(), 10)
          if (Number.isNaN(length)) return false // the docs' code: stalls for good
        } else {
          const end = lf < 0 ? buf.length : lf
          length = 0
          for (let i = 0; i < end; i++) {
            const d = buf[i] as number
            if (d < 0x30 || d > 0x39 || (i === 1 && buf[0] === 0x30)) {
              fatal('ERR_BAD_LENGTH')
              return true
            }
            length = length * 10 + d - 0x30
            const over = has('limit-off-by-one') ? length >= LIMIT : length > LIMIT
            if (over && !has('no-limit')) {
              fatal('ERR_FRAME_TOO_LARGE')
              return true
            }
          }
          if (lf < 0) return false
          if (lf === 0) {
            fatal('ERR_BAD_LENGTH')
            return true
          }
        }
        const start = lf + 1
        if (has('payload-until-lf')) {
          const end = buf.indexOf(0x0a, start)
          if (end < 0) return false
          const payload = buf.subarray(start, end)
          buf = buf.subarray(end + 1)
          payloadOf(payload)
          return true
        }
        if (has('char-length')) {
          const text = buf.subarray(start).toString('utf8')
          if (text.length < length) return false
          const bytes = Buffer.byteLength(text.slice(0, length))
          const payload = buf.subarray(start, start + bytes)
          buf = buf.subarray(start + bytes)
          payloadOf(payload)
          return true
        }
        if (buf.length < start + length) return false
        const payload = buf.subarray(start, start + length)
        buf = buf.subarray(start + length)
        payloadOf(payload)
        return true
      }
      socket.on('data', (chunk: Buffer) => {
        if (dead) return
        const bytes = has('per-chunk-decode') ? Buffer.from(chunk.toString('utf8')) : chunk
        buf = buf.length === 0 ? bytes : Buffer.concat([buf, bytes])
        let frames = 0
        while (!dead && buf.length > 0 && step()) {
          frames++
          if (has('first-frame-only') && frames === 1) {
            buf = Buffer.alloc(0)
            break
          }
        }
        if (has('chunk-framing')) buf = Buffer.alloc(0)
      })
      socket.on('end', () => {
        if (!has('half-open')) socket.end()
      })
      send({ type: 'welcome', connectionId: String(all.size) })
    },
    { allowHalfOpen: true },
  )
}
