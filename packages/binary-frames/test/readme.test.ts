// The README's examples, as written there (only the port, the logging and cleanup differ).
import { once } from 'node:events'
import {
  type AddressInfo,
  connect,
  createServer as createNetServer,
  type Server,
  type Socket,
} from 'node:net'
import { createServer, type TcpServer } from '@verb-tcp/core'
import { afterEach, expect, it } from 'vitest'
import {
  type BinaryFrame,
  BinaryProtocolHandler,
  DATA,
  encodeFrame,
  HEARTBEAT,
  iterateBinaryFrames,
  PONG,
} from '../src/index.ts'

let app: TcpServer | undefined
let server: Server | undefined
let socket: Socket | undefined
afterEach(async () => {
  socket?.destroy()
  await app?.close({ gracePeriod: 0 })
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  app = undefined
  server = undefined
})

it('README: heartbeat and data echo with BinaryProtocolHandler', async () => {
  const log: unknown[] = []
  app = createServer().withOptions({
    tcp: {
      onConnection: (socket) => {
        const handler = new BinaryProtocolHandler(socket) // answers HEARTBEAT with PONG "pong"
        handler.on(DATA, (frame) => handler.sendBinaryMessage(DATA, frame.payload, frame.flags))
        handler.on('unknown', (frame) => log.push(['unknown message type', frame.type]))
      },
    },
  })
  const { port } = await app.listen(0, '127.0.0.1')

  socket = connect(port, '127.0.0.1')
  const client = new BinaryProtocolHandler(socket)
  const pong = new Promise<BinaryFrame>((resolve) => client.on(PONG, resolve)) // "pong"
  const data = new Promise<BinaryFrame>((resolve) => client.on(DATA, resolve)) // "hello", flags 1
  client.sendBinaryMessage(HEARTBEAT, Buffer.alloc(0))
  client.sendBinaryMessage(DATA, Buffer.from('hello'), 0x0001)
  const p = await pong
  const d = await data
  expect(p.payload.toString()).toBe('pong')
  expect([d.payload.toString(), d.flags]).toEqual(['hello', 1])
  expect(log).toEqual([])
})

it('README: iterating frames from a socket in batches', async () => {
  server = createNetServer((s) =>
    s.end(Buffer.concat([encodeFrame(DATA, Buffer.from('a')), encodeFrame(7, Buffer.from('b'))])),
  )
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const seen: [number, string][] = []
  const handle = (frame: BinaryFrame) => seen.push([frame.type, frame.payload.toString()])

  socket = connect(port, '127.0.0.1')
  for await (const batch of iterateBinaryFrames(socket, { batch: true, maxFrameBytes: 1 << 20 })) {
    for (const frame of batch) handle(frame)
  }
  expect(seen).toEqual([
    [DATA, 'a'],
    [7, 'b'],
  ])
})
