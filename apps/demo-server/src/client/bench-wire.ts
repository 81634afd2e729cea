import type { Socket } from 'node:net'
import { dial } from './dial.ts'

/**
 * What the load generator needs of a wire protocol, kept cheap on purpose: frames are encoded
 * once (or from a template), and a reply is recognised by the bytes it starts with, without
 * parsing its JSON. Both protocols below work the same way, so every server pays the same price
 * on the generator's side.
 */
export interface Wire {
  /** A client frame carrying `json` (one JSON text), ready to write. */
  frame(json: string): Buffer
  /**
   * The byte prefix a server's message of `type` starts with, inside a frame's payload: the
   * json-frames payload is the message itself; socket.io's is `42["message",<message>]`.
   */
  prefix(type: string): Buffer
  /**
   * Calls `onPayload(buf, start, end)` for every complete text frame in `chunk` (with what was
   * left from the last chunk), and returns what is left over (an incomplete frame) or undefined.
   * `control` answers a protocol's keep-alives.
   */
  scan(
    rest: Buffer | undefined,
    chunk: Buffer,
    onPayload: (buf: Buffer, start: number, end: number) => void,
    control: (reply: Buffer) => void,
  ): Buffer | undefined
  /** Connects and completes the protocol's handshake; the socket is ready for frames. */
  open(host: string, port: number): Promise<Socket>
}

/** json-frames: `<byte length>\n<json>`. */
export const jsonFrames: Wire = {
  frame(json) {
    const body = Buffer.from(json)
    return Buffer.concat([Buffer.from(`${body.length}\n`), body])
  },
  prefix: (type) => Buffer.from(`{"type":${JSON.stringify(type)}`),
  scan(rest, chunk, onPayload) {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk
    const n = buf.length
    let at = 0
    while (at < n) {
      let length = 0
      let i = at
      for (; i < n; i++) {
        const c = buf[i] as number
        if (c === 0x0a) break
        length = length * 10 + c - 0x30
      }
      if (i >= n) break
      const end = i + 1 + length
      if (end > n) break
      onPayload(buf, i + 1, end)
      at = end
    }
    // A copy, so an incomplete frame does not keep a whole read buffer alive.
    return at < n ? Buffer.from(buf.subarray(at)) : undefined
  },
  open: (host, port) => dial(host, port),
}

/** A masked WebSocket text frame; the mask key is zero, so the payload bytes go as they are. */
function wsFrame(payload: Buffer, opcode = 0x1): Buffer {
  const n = payload.length
  const head = n < 126 ? 6 : n < 65536 ? 8 : 14
  const out = Buffer.alloc(head + n)
  out[0] = 0x80 | opcode
  if (n < 126) out[1] = 0x80 | n
  else if (n < 65536) {
    out[1] = 0x80 | 126
    out.writeUInt16BE(n, 2)
  } else {
    out[1] = 0x80 | 127
    out.writeBigUInt64BE(BigInt(n), 2)
  }
  payload.copy(out, head)
  return out
}

const EIO_PONG = wsFrame(Buffer.from('3'))

/**
 * socket.io 4 spoken directly: engine.io 4 over a WebSocket, no socket.io-client. An event
 * `message` carrying `json` is the engine.io message packet `4` holding the socket.io EVENT
 * packet `2` for the default namespace: `42["message",<json>]`. The server's engine.io pings
 * (`2`) are answered (`3`).
 */
export const socketIo: Wire = {
  frame: (json) => wsFrame(Buffer.from(`42["message",${json}]`)),
  prefix: (type) => Buffer.from(`42["message",{"type":${JSON.stringify(type)}`),
  scan(rest, chunk, onPayload, control) {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk
    const n = buf.length
    let at = 0
    while (at + 2 <= n) {
      const opcode = (buf[at] as number) & 0x0f
      let length = (buf[at + 1] as number) & 0x7f
      let head = 2
      if (length === 126) {
        if (at + 4 > n) break
        length = buf.readUInt16BE(at + 2)
        head = 4
      } else if (length === 127) {
        if (at + 10 > n) break
        length = Number(buf.readBigUInt64BE(at + 2))
        head = 10
      }
      const start = at + head
      const end = start + length
      if (end > n) break
      if (opcode === 0x1) {
        if (length === 1 && buf[start] === 0x32) control(EIO_PONG)
        else onPayload(buf, start, end)
      } else if (opcode === 0x9) control(wsFrame(buf.subarray(start, end), 0xa))
      at = end
    }
    return at < n ? Buffer.from(buf.subarray(at)) : undefined
  },
  async open(host, port) {
    const socket = await dial(host, port)
    socket.write(
      `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${host}:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    )
    // The 101 response, then engine.io's open packet (`0{...}`); then the namespace is joined
    // (`40`) and the server's `40{"sid":...}` says it is.
    let pending: Buffer = Buffer.alloc(0)
    let upgraded = false
    let opened = false
    await new Promise<void>((resolve, reject) => {
      const onClose = () => reject(new Error('socket.io server closed the connection'))
      const onData = (chunk: Buffer) => {
        let buf: Buffer = Buffer.concat([pending, chunk])
        if (!upgraded) {
          const end = buf.indexOf('\r\n\r\n')
          if (end < 0) {
            pending = buf
            return
          }
          const status = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1')
          if (!status.includes(' 101 ')) {
            reject(new Error(`socket.io server refused the WebSocket: ${status}`))
            return
          }
          upgraded = true
          buf = buf.subarray(end + 4)
        }
        let done = false
        const left = socketIo.scan(
          undefined,
          buf,
          (b, start, end) => {
            const packet = b.toString('latin1', start, end)
            if (packet.startsWith('0')) {
              opened = true
              socket.write(wsFrame(Buffer.from('40')))
            } else if (packet.startsWith('40') && opened) done = true
          },
          (reply) => socket.write(reply),
        )
        pending = left ?? Buffer.alloc(0)
        if (done) {
          socket.off('data', onData)
          socket.off('close', onClose)
          resolve()
        }
      }
      socket.on('data', onData)
      socket.once('close', onClose)
    })
    return socket
  },
}
