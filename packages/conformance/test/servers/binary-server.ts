import { type Listening, listen } from './listen.ts'

/**
 * A binary-frames server of the binary-port profile written by hand for the tests, correct by
 * default (heartbeat → PONG "pong", DATA echoed with its flags, other types ignored); each
 * `BinaryBreak` breaks one rule.
 */
export type BinaryBreak =
  | 'pong-payload' // PONG with payload "PONG"
  | 'heartbeat-payload-kept' // a heartbeat's payload is not skipped: it is read as the next header
  | 'flags-dropped' // DATA echoed with flags 0
  | 'chunk-framing' // each read framed on its own: a partial header or payload is dropped
  | 'drop-empty' // frames with an empty payload are dropped (as length-prefixed-stream does)
  | 'first-frame-only' // only the first frame of each read is handled
  | 'no-limit' // no frame limit: waits for whatever length is declared
  | 'signed-length' // the length read signed: 0x80000000 is negative, taken as an empty frame
  | 'limit-off-by-one' // a frame of exactly the limit refused
  | 'strict-flags' // reserved flag bits refused: the frame is dropped
  | 'unknown-type-payload-kept' // an unknown type's payload is read as the next header
  | 'unknown-type-closes' // an unknown type closes the connection
  | 'answers-pong' // a PONG is answered with a PONG
  | 'no-backpressure' // reads on while answers queue
  | 'half-open' // a peer's end is ignored

const LIMIT = 8 * 1024 * 1024

export function startBinaryServer(breaks: readonly BinaryBreak[] = []): Promise<Listening> {
  const has = (b: BinaryBreak) => breaks.includes(b)
  return listen(
    (socket) => {
      let buf: Buffer = Buffer.alloc(0)
      let dead = false
      let out: Buffer[] = []
      const send = (type: number, payload: Buffer, flags = 0) => {
        const h = Buffer.alloc(8)
        h.writeUInt16BE(type, 0)
        h.writeUInt32BE(payload.length, 2)
        h.writeUInt16BE(flags, 6)
        out.push(h, payload)
      }
      /** A read's answers go out in one write. */
      const flush = () => {
        if (out.length === 0) return
        const ok = socket.write(Buffer.concat(out))
        out = []
        if (!ok && !has('no-backpressure')) {
          socket.pause()
          socket.once('drain', () => socket.resume())
        }
      }
      const step = (): boolean => {
        if (buf.length < 8) return false
        const type = buf.readUInt16BE(0)
        const length = has('signed-length') ? Math.max(0, buf.readInt32BE(2)) : buf.readUInt32BE(2)
        const flags = buf.readUInt16BE(6)
        const over = has('limit-off-by-one') ? length >= LIMIT : length > LIMIT
        if (over && !has('no-limit')) {
          dead = true
          socket.destroy()
          return true
        }
        const keepPayload =
          (type === 0x01 && has('heartbeat-payload-kept')) ||
          (![0x01, 0x02, 0x10].includes(type) && has('unknown-type-payload-kept'))
        if (!keepPayload && buf.length < 8 + length) return false
        const payload = keepPayload ? Buffer.alloc(0) : Buffer.from(buf.subarray(8, 8 + length))
        buf = buf.subarray(keepPayload ? 8 : 8 + length)
        if (length === 0 && has('drop-empty')) return true
        if (type === 0x01) send(0x02, Buffer.from(has('pong-payload') ? 'PONG' : 'pong'))
        else if (type === 0x10) {
          if (has('strict-flags') && flags & 0xff00) return true
          send(0x10, payload, has('flags-dropped') ? 0 : flags)
        } else if (type === 0x02) {
          if (has('answers-pong')) send(0x02, Buffer.from('pong'))
        } else if (has('unknown-type-closes')) {
          dead = true
          socket.destroy()
        }
        return true
      }
      socket.on('data', (chunk: Buffer) => {
        if (dead) return
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
        let frames = 0
        while (!dead && step()) {
          if (has('first-frame-only') && ++frames === 1) {
            buf = Buffer.alloc(0)
            break
          }
        }
        flush()
        if (has('chunk-framing')) buf = Buffer.alloc(0)
      })
      socket.on('end', () => {
        if (!has('half-open')) socket.end()
      })
    },
    { allowHalfOpen: true },
  )
}
