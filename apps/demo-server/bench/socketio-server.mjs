// A socket.io server doing what the demo's message port does for the benchmark: `ping` answered
// with `pong` (the ping's fields back), `join_room` joins a socket.io room, `room_message` goes
// to the room's other members (`socket.to(room)`). Messages are socket.io's `message` events.
//
// For the benchmark's cross-check, it counts what it sends by type, and prints the counts as one
// JSON line whenever a line comes in on stdin.
import { createServer } from 'node:http'
import { createInterface } from 'node:readline'
import { Server } from 'socket.io'

const sent = { pong: 0, room_message: 0, error: 0 }
createInterface({ input: process.stdin }).on('line', () => {
  process.stdout.write(`${JSON.stringify({ counts: sent })}\n`)
})

const http = createServer()
const io = new Server(http, { transports: ['websocket'], serveClient: false })
io.on('connection', (socket) => {
  socket.on('message', (m) => {
    switch (m?.type) {
      case 'ping':
        sent.pong++
        socket.send({ ...m, type: 'pong', timestamp: Date.now() })
        break
      case 'join_room':
        socket.join(m.room)
        break
      case 'room_message': {
        const members = io.sockets.adapter.rooms.get(m.room)
        sent.room_message += (members?.size ?? 0) - (members?.has(socket.id) ? 1 : 0)
        socket.to(m.room).emit('message', {
          type: 'room_message',
          room: m.room,
          from: socket.id,
          data: m.data,
          timestamp: Date.now(),
        })
        break
      }
      default:
        sent.error++
        socket.send({
          type: 'error',
          code: 'ERR_UNKNOWN_TYPE',
          message: `Unknown message type: ${m?.type}`,
        })
    }
  })
})
http.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: http.address().port })}\n`)
})
process.on('SIGTERM', () => process.exit(0))
