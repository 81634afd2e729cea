// A ping flood must not starve other clients: MessageHandler delivers a bounded batch of
// messages, then lets the other connections go first (stopping mid-chunk and going on where it
// stopped), the replies to a batch leave in one write, and a flooder that does not read its pongs
// is paused rather than queued for. Progress is asserted, not time.
import type { TCPSocket } from '@verb-tcp/core'
import {
  closeAll,
  connectLoopback,
  createTCPServer,
  until,
  workPerRoundTrip,
} from '@verb-tcp/core/testing'
import { afterEach, expect, it } from 'vitest'
import { encodeMessage, MessageHandler } from '../src/index.ts'

// 2 MiB of pings per flooder, written in one go: 65,536 messages of 32 bytes.
const PING = encodeMessage({ type: 'ping', id: 'flood-00000' })
const FLOOD_PINGS = Math.floor((2 * 1024 * 1024) / PING.length)
const flood = Buffer.alloc(FLOOD_PINGS * PING.length, PING)

afterEach(closeAll)

/** A server answering every ping with a pong, counting the pings it has handled. */
function pingServer() {
  const counts = { pings: 0 }
  const serverSockets: TCPSocket[] = []
  const server = createTCPServer({
    onConnection: (socket) => {
      serverSockets.push(socket)
      const handler = new MessageHandler(socket)
      handler.on('message', (m) => {
        if (m.type === 'ping') counts.pings++
        handler.sendMessage({ type: 'pong', id: m.id })
      })
    },
  })
  return { server, counts, serverSockets }
}

it('keeps answering a well-behaved client while several clients flood pings', async () => {
  const { server, counts } = pingServer()
  const { port } = await server.ready
  const flooders = 4
  const total = flooders * FLOOD_PINGS

  const good = new MessageHandler(await connectLoopback(port))
  let n = 0
  const roundTrip = () =>
    new Promise((resolve) => {
      good.once('message', resolve)
      good.sendMessage({ type: 'hello', id: n++ })
    })
  await roundTrip()

  for (let i = 0; i < flooders; i++) {
    const flooder = await connectLoopback(port)
    flooder.resume() // reads (and drops) its pongs
    flooder.write(flood)
  }
  await until(() => counts.pings > 0)

  // What is measured is work, not time: how many pings the server handled while one round trip
  // of the good client waited. Fair turns make that a few batches per flooder; a whole paused
  // buffer or a whole 64 KiB read handled at once is thousands per flooder.
  const { trips, most } = await workPerRoundTrip({ roundTrip, work: () => counts.pings, total })
  expect(trips).toBe(20)
  expect(most).toBeLessThanOrEqual(flooders * 4 * 256)
  // And the flood itself is answered in full.
  await until(() => counts.pings === total, { waits: 3000 })
}, 60_000)

it('pauses a flooder that does not read its pongs instead of queueing for it', async () => {
  const { server, counts, serverSockets } = pingServer()
  const { port } = await server.ready
  const flooder = await connectLoopback(port)
  // And never reads: 6 MiB of pings, more pongs than loopback's kernel buffers take.
  for (let i = 0; i < 3; i++) flooder.write(flood)
  await until(() => serverSockets[0]?.writableNeedDrain === true, { waits: 3000 })
  const socket = serverSockets[0] as TCPSocket
  // Many more turns: nothing more is handled, and the queued pongs stay bounded by the socket's
  // high-water mark plus one reply (a batch stops at the first write that needs a drain).
  const handled = counts.pings
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r))
  expect(counts.pings).toBe(handled)
  expect(counts.pings).toBeLessThan(3 * FLOOD_PINGS)
  expect(socket.writableLength).toBeLessThanOrEqual(socket.writableHighWaterMark + 64)
  // Another client is served meanwhile.
  const good = new MessageHandler(await connectLoopback(port))
  const reply = new Promise((resolve) => good.once('message', resolve))
  good.sendMessage({ type: 'ping', id: 'still here' })
  expect(await reply).toEqual({ type: 'pong', id: 'still here' })
}, 60_000)
