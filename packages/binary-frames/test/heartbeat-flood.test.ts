// A heartbeat flood must not starve other clients: the handler yields the event loop after a
// bounded batch of frames and answers a chunk's heartbeats with one write, and a flooder that
// does not read its pongs is paused rather than queued for. Progress is asserted, not time.
import { createServer, type TCPSocket } from '@verb-tcp/core'
import {
  closeAll,
  connectLoopback,
  createTCPServer,
  until,
  workPerRoundTrip,
} from '@verb-tcp/core/testing'
import { afterEach, expect, it } from 'vitest'
import { BinaryProtocolHandler, DATA, encodeFrame, HEARTBEAT, PONG } from '../src/index.ts'

const FLOOD_FRAMES = 524_288 // 4 MiB of 8-byte heartbeats, written in one go
const flood = Buffer.alloc(FLOOD_FRAMES * 8, encodeFrame(HEARTBEAT, Buffer.alloc(0)))

afterEach(closeAll)

/** A server answering heartbeats and echoing DATA, counting the heartbeats it has decoded. */
function heartbeatServer() {
  const counts = { heartbeats: 0 }
  const serverSockets: TCPSocket[] = []
  const server = createTCPServer({
    onConnection: (socket) => {
      serverSockets.push(socket)
      const handler = new BinaryProtocolHandler(socket)
      handler.on(HEARTBEAT, () => void counts.heartbeats++)
      handler.on(DATA, (frame) => handler.sendBinaryMessage(DATA, frame.payload))
    },
  })
  return { server, counts, serverSockets }
}

it('keeps serving a well-behaved client while several clients flood heartbeats', async () => {
  const { server, counts } = heartbeatServer()
  const { port } = await server.ready
  const flooders = 4
  const total = flooders * FLOOD_FRAMES

  const good = new BinaryProtocolHandler(await connectLoopback(port))
  const roundTrip = () =>
    new Promise((resolve) => {
      good.once(DATA, resolve)
      good.sendBinaryMessage(DATA, Buffer.from('ping'))
    })
  await roundTrip()

  for (let i = 0; i < flooders; i++) {
    const flooder = await connectLoopback(port)
    flooder.resume() // reads (and drops) its pongs
    flooder.write(flood)
  }
  await until(() => counts.heartbeats > 0)

  // Round trips while the flood is being decoded. What is measured is work, not time: how many
  // heartbeats the server decoded while one round trip of the good client was waiting. Bounded
  // per turn, that is a few 64 KiB reads per flooder; unbounded, Node hands over up to 32 reads
  // (2 MiB, 262,144 heartbeats) of one socket in a row, for each flooder, while every pong is a
  // write of its own.
  const { trips, most } = await workPerRoundTrip({
    roundTrip,
    work: () => counts.heartbeats,
    total,
  })
  expect(trips).toBe(20)
  expect(most).toBeLessThanOrEqual(flooders * 3 * 8192)
  // And the flood itself is answered in full.
  await until(() => counts.heartbeats === total, { waits: 3000 })
}, 60_000)

it('answers a chunk of heartbeats with pongs in order, behind nothing else', async () => {
  const { server } = heartbeatServer()
  const { port } = await server.ready
  const client = new BinaryProtocolHandler(await connectLoopback(port))
  const seen: number[] = []
  client.on('frame', (frame) => seen.push(frame.type))
  const hb = encodeFrame(HEARTBEAT, Buffer.alloc(0))
  client.socket.write(
    Buffer.concat([
      hb,
      hb,
      encodeFrame(DATA, Buffer.from('x')),
      hb,
      encodeFrame(DATA, Buffer.from('y')),
    ]),
  )
  await until(() => seen.length === 5)
  expect(seen).toEqual([PONG, PONG, DATA, PONG, DATA])
})

it('pauses a flooder that does not read its pongs instead of queueing for it', async () => {
  const { server, counts, serverSockets } = heartbeatServer()
  const { port } = await server.ready
  const flooder = await connectLoopback(port)
  flooder.write(flood) // and never reads
  await until(() => serverSockets[0]?.writableNeedDrain === true, { waits: 3000 })
  const socket = serverSockets[0] as TCPSocket
  // Give it many more turns: nothing more is decoded, and the queued pongs stay bounded by the
  // socket's high-water mark plus one chunk's answers (8,192 pongs of 12 bytes).
  const decoded = counts.heartbeats
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r))
  expect(counts.heartbeats).toBe(decoded)
  expect(counts.heartbeats).toBeLessThan(FLOOD_FRAMES)
  expect(socket.writableLength).toBeLessThanOrEqual(socket.writableHighWaterMark + 8192 * 12)
  // Another client is served meanwhile.
  const good = new BinaryProtocolHandler(await connectLoopback(port))
  const reply = new Promise((resolve) => good.once(DATA, resolve))
  good.sendBinaryMessage(DATA, Buffer.from('still here'))
  await reply
})

// core's createServer, as the READMEs compose it, behaves the same.
it('works the same under core createServer', async () => {
  const app = createServer().onConnection((s) => void new BinaryProtocolHandler(s))
  const { port } = await app.listen()
  try {
    const client = new BinaryProtocolHandler(await connectLoopback(port))
    const pong = new Promise((resolve) => client.once(PONG, resolve))
    client.sendBinaryMessage(HEARTBEAT, Buffer.alloc(0))
    await pong
  } finally {
    await app.close({ gracePeriod: 0 })
  }
})
