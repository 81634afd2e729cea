// A socket.io 4 server process with @socket.io/redis-adapter (ioredis clients), doing the same
// work as verb-node.mjs: join "bench", and relay each client's message to the rest of the room.
import { createServer } from 'node:http'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { Server } from 'socket.io'

const pub = new Redis(process.env.REDIS_URL)
const sub = pub.duplicate()
for (const client of [pub, sub]) client.on('error', () => {})
const http = createServer()
const io = new Server(http, { adapter: createAdapter(pub, sub), transports: ['websocket'] })
io.on('connection', (socket) => {
  socket.on('j', (ack) => {
    socket.join('bench')
    ack()
  })
  socket.on('b', (d) => socket.to('bench').emit('m', d))
})
http.listen(0, '127.0.0.1', () => process.send?.({ port: http.address().port }))
