// A verb-tcp server process for the fan-out benchmark: core's server, TCPRoomManager, json-frames.
// ADAPTER=local: one node, the in-process adapter. ADAPTER=redis: a node of a cluster on Redis.
import { createServer } from '@verb-tcp/core'
import { MessageHandler } from '@verb-tcp/json-frames'
import { TCPRoomManager } from '@verb-tcp/rooms'
import { RedisAdapter } from '@verb-tcp/rooms-redis'
import { DirectLink } from './direct-link.mjs'

// ADAPTER=direct: the bench-only two-node floor (see direct-link.mjs), no Redis.
const adapter =
  process.env.ADAPTER === 'redis'
    ? new RedisAdapter({ redis: process.env.REDIS_URL, prefix: process.env.PREFIX })
    : process.env.ADAPTER === 'direct'
      ? new DirectLink()
      : undefined
const rooms = new TCPRoomManager({
  ...(adapter && { adapter }),
  maxBufferedBytes: 64 * 1024 * 1024,
})
let next = 0

const server = createServer().withOptions({
  port: 0,
  host: '127.0.0.1',
  tcp: {
    noDelay: true,
    onConnection(socket) {
      // Connection ids must be unique across nodes: an exclusion travels by id.
      const id = `${process.pid}-${++next}`
      rooms.addClient(id, socket)
      const messages = new MessageHandler(socket)
      messages.on('error', () => {})
      messages.on('message', async (message) => {
        if (message.t === 'b') {
          rooms.broadcastToRoom('bench', { t: 'm', d: message.d }, id)
        } else if (message.t === 'j') {
          rooms.joinRoom(id, 'bench')
          await adapter?.settled()
          messages.sendMessage({ t: 'ok' })
        }
      })
    },
  },
})
const { port } = await server.listen()
await adapter?.ready
if (adapter instanceof DirectLink) {
  const link = await adapter.listen()
  process.on('message', async (message) => {
    if (message.peer) {
      await adapter.connect(message.peer)
      process.send?.({ linked: true })
    }
  })
  process.send?.({ port, link })
} else {
  process.send?.({ port })
}
// Under BENCH_PROFILE, run.mjs stops servers with SIGTERM, so --cpu-prof can write its profile.
if (process.env.BENCH_PROFILE) process.on('SIGTERM', () => process.exit(0))
