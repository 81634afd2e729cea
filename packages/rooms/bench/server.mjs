// One benchmark server, in a process of its own: `node server.mjs <impl>`.
//   verb    @verb-tcp/rooms (json-frames in and out), on @verb-tcp/core's server
//   docs    the verb docs' TCPRoomManager loop: JSON.stringify per broadcast, one write per member
//           (a newline appended so clients can count messages), on @verb-tcp/core's server
//   socketio socket.io 4.8, in-memory adapter, websocket transport only
// Every client joins room "r"; every message a client sends is broadcast to the room, sender
// excluded. The parent asks for CPU time and memory over IPC.
import { createServer as createHttpServer } from 'node:http'
import { createServer } from '@verb-tcp/core'
import { MessageDecoder } from '@verb-tcp/json-frames'
import { TCPRoomManager } from '@verb-tcp/rooms'
import { Server as SocketIOServer } from 'socket.io'

const impl = process.argv[2]
let clients = 0

async function verb() {
  // No slow-member drops in a benchmark: every delivery must arrive (it is checked by count).
  const rooms = new TCPRoomManager({
    maxMembersPerRoom: Number.POSITIVE_INFINITY,
    maxBufferedBytes: 256 * 1024 * 1024,
    // Neither the docs' loop here nor socket.io sends join notices: 5,000 joins would be
    // 12.5 million of them before the first broadcast.
    notices: false,
  })
  let next = 0
  const app = createServer().withOptions({
    port: 0,
    host: '127.0.0.1',
    tcp: {
      timeout: 0,
      onConnection: (socket) => {
        const id = String(next++)
        rooms.addClient(id, socket)
        rooms.joinRoom(id, 'r')
        clients++
        const decoder = new MessageDecoder()
        const sink = {
          frame: (message) => rooms.broadcastToRoom('r', message, id),
          error: () => socket.destroy(),
        }
        socket.on('data', (chunk) => decoder.push(chunk, sink))
        socket.on('close', () => clients--)
      },
    },
  })
  const { port } = await app.listen()
  return port
}

// The verb docs' TCPRoomManager, as written there, except the newline after each message.
class DocsRoomManager {
  rooms = new Map()
  clients = new Map()
  addClient(connectionId, socket, metadata = {}) {
    this.clients.set(connectionId, { socket, rooms: new Set(), metadata, joinedAt: Date.now() })
  }
  joinRoom(connectionId, roomId) {
    const client = this.clients.get(connectionId)
    if (!client) return false
    if (!this.rooms.has(roomId)) this.rooms.set(roomId, new Set())
    this.rooms.get(roomId).add(connectionId)
    client.rooms.add(roomId)
    return true
  }
  broadcastToRoom(roomId, message, excludeClient) {
    const room = this.rooms.get(roomId)
    if (!room) return
    const messageStr = `${JSON.stringify(message)}\n`
    for (const connectionId of room) {
      if (connectionId !== excludeClient) {
        const client = this.clients.get(connectionId)
        if (client) client.socket.write(messageStr)
      }
    }
  }
}

async function docs() {
  const rooms = new DocsRoomManager()
  let next = 0
  const app = createServer().withOptions({
    port: 0,
    host: '127.0.0.1',
    tcp: {
      timeout: 0,
      onConnection: (socket) => {
        const id = String(next++)
        rooms.addClient(id, socket)
        rooms.joinRoom(id, 'r')
        clients++
        socket.on('error', () => {})
        let rest = ''
        socket.setEncoding('utf8')
        socket.on('data', (text) => {
          const lines = (rest + text).split('\n')
          rest = lines.pop()
          for (const line of lines) rooms.broadcastToRoom('r', JSON.parse(line), id)
        })
        socket.on('close', () => clients--)
      },
    },
  })
  const { port } = await app.listen()
  return port
}

async function socketio() {
  const http = createHttpServer()
  const io = new SocketIOServer(http, { transports: ['websocket'], serveClient: false })
  io.on('connection', (socket) => {
    socket.join('r')
    clients++
    socket.on('m', (message) => socket.to('r').emit('m', message))
    socket.on('disconnect', () => clients--)
  })
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))
  return http.address().port
}

const start = { verb, docs, socketio }[impl]
if (!start) throw new Error(`unknown server ${impl}`)
const port = await start()
process.on('message', (request) => {
  if (request.type === 'cpu') {
    const { user, system } = process.cpuUsage()
    process.send({ type: 'cpu', id: request.id, cpuUs: user + system, clients })
  } else if (request.type === 'memory') {
    globalThis.gc?.()
    process.send({
      type: 'memory',
      id: request.id,
      heapUsed: process.memoryUsage().heapUsed,
      clients,
    })
  } else if (request.type === 'exit') {
    process.exit(0)
  }
})
process.send({ type: 'ready', port })
