// The verb docs' `TCPMessageServer`, as written in the docs, with its framing made to work: the
// docs decode with a `MessageHandler` but answer with `socket.write(JSON.stringify(...))`, which
// no MessageHandler on the other side can read; here every write goes through `send`, which
// frames it as json-frames. `joinRoom` is called by the docs but never defined: it is written
// here the plainest way, with a `rooms` map, and `room_message` (absent from the docs) does
// what the docs' `broadcast` does, for one room. Everything else is the docs' code.
//
// For the benchmark's cross-check, `send` counts what it sends by type, and the counts are
// printed as one JSON line whenever a line comes in on stdin.
import { createInterface } from 'node:readline'
import { createServer } from '@verb-tcp/core'
import { encodeMessage, MessageHandler } from '@verb-tcp/json-frames'

const sent = {}
createInterface({ input: process.stdin }).on('line', () => {
  process.stdout.write(`${JSON.stringify({ counts: sent })}\n`)
})
const send = (socket, message) => {
  sent[message.type] = (sent[message.type] ?? 0) + 1
  return socket.write(encodeMessage(message))
}

class TCPMessageServer {
  clients = new Map()
  rooms = new Map()

  constructor(app, port) {
    this.app = app
    this.port = port
    this.setupServer()
  }

  setupServer() {
    this.app.withOptions({
      port: this.port,
      tcp: {
        onConnection: (socket) => {
          const clientId = `${socket.remoteAddress}:${socket.remotePort}`
          this.clients.set(clientId, socket)
          const messageHandler = new MessageHandler(socket)
          messageHandler.on('message', (message) => {
            this.handleMessage(clientId, message, socket)
          })
          socket.on('close', () => {
            this.clients.delete(clientId)
            for (const members of this.rooms.values()) members.delete(clientId)
          })
          socket.on('error', () => {
            this.clients.delete(clientId)
          })
        },
      },
    })
  }

  handleMessage(clientId, message, socket) {
    switch (message.type) {
      case 'ping':
        // The docs answer `{ type: 'pong', timestamp }`; the bench matches replies by `id`.
        send(socket, { type: 'pong', id: message.id, timestamp: Date.now() })
        break
      case 'broadcast':
        this.broadcast(message.data, clientId)
        break
      case 'private':
        this.sendPrivateMessage(message.target, message.data, clientId)
        break
      case 'join_room':
        this.joinRoom(clientId, message.room)
        break
      case 'room_message':
        this.broadcastToRoom(message.room, message.data, clientId)
        break
      default:
        send(socket, { type: 'error', message: `Unknown message type: ${message.type}` })
    }
  }

  broadcast(data, excludeClient) {
    const message = { type: 'broadcast', data, timestamp: Date.now() }
    for (const [clientId, socket] of this.clients) {
      if (clientId !== excludeClient) send(socket, message)
    }
  }

  sendPrivateMessage(targetClient, data, fromClient) {
    const socket = this.clients.get(targetClient)
    if (socket) send(socket, { type: 'private', from: fromClient, data, timestamp: Date.now() })
  }

  joinRoom(clientId, room) {
    if (!this.rooms.has(room)) this.rooms.set(room, new Set())
    this.rooms.get(room).add(clientId)
  }

  broadcastToRoom(room, data, fromClient) {
    const message = { type: 'room_message', room, from: fromClient, data, timestamp: Date.now() }
    for (const clientId of this.rooms.get(room) ?? []) {
      if (clientId !== fromClient) send(this.clients.get(clientId), message)
    }
  }
}

const app = createServer()
new TCPMessageServer(app, Number(process.argv[2] ?? 0))
const { port } = await app.listen()
process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`)
process.on('SIGTERM', () => process.exit(0))
