// The load generator's ceiling: the least a server can do and still answer the bench. A ping's
// frame comes back with `ping` turned into `pong` in place (the same bytes otherwise, so no JSON
// is parsed or written), and a room message's frame is written as it came to every other member
// of the room. Writes are corked per turn, so a member receiving many messages in one turn gets
// one write. What the generator measures against this server is what it can measure at all.
//
// For the benchmark's cross-check, it counts what it sends by type, and prints the counts as one
// JSON line whenever a line comes in on stdin.
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'

const sent = { pong: 0, room_message: 0 }
createInterface({ input: process.stdin }).on('line', () => {
  process.stdout.write(`${JSON.stringify({ counts: sent })}\n`)
})

const NL = 0x0a
const rooms = new Map() // room -> Set<socket>
const corked = new Set()
let flushScheduled = false
const flush = () => {
  flushScheduled = false
  for (const socket of corked) socket.uncork()
  corked.clear()
}
const write = (socket, bytes) => {
  if (socket.destroyed) return
  if (!corked.has(socket)) {
    socket.cork()
    corked.add(socket)
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flush)
    }
  }
  socket.write(bytes)
}
// `{"type":"ping"`: the byte to change is the `i` of `ping`.
const PING = Buffer.from('{"type":"ping"')
const I_AT = PING.indexOf('i'.charCodeAt(0), 9)

const server = createServer((socket) => {
  socket.setNoDelay(true)
  const joined = new Set()
  let pending = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    let buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk
    let at = 0
    for (;;) {
      const nl = buf.indexOf(NL, at)
      if (nl < 0) break
      const length = Number(buf.latin1Slice(at, nl))
      const end = nl + 1 + length
      if (end > buf.length) break
      const frame = buf.subarray(at, end)
      const payload = buf.subarray(nl + 1, end)
      if (payload.subarray(0, PING.length).equals(PING)) {
        const reply = Buffer.from(frame)
        reply[nl + 1 - at + I_AT] = 'o'.charCodeAt(0)
        sent.pong++
        write(socket, reply)
      } else {
        const m = JSON.parse(payload.latin1Slice(0, payload.length))
        if (m.type === 'join_room') {
          if (!rooms.has(m.room)) rooms.set(m.room, new Set())
          rooms.get(m.room).add(socket)
          joined.add(m.room)
        } else if (m.type === 'room_message') {
          const copy = Buffer.from(frame)
          for (const member of rooms.get(m.room) ?? []) {
            if (member === socket) continue
            sent.room_message++
            write(member, copy)
          }
        }
      }
      at = end
    }
    pending = at < buf.length ? Buffer.from(buf.subarray(at)) : Buffer.alloc(0)
    buf = undefined
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    for (const room of joined) rooms.get(room)?.delete(socket)
  })
})
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: server.address().port })}\n`)
})
process.on('SIGTERM', () => process.exit(0))
