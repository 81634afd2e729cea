// The verb docs' BinaryProtocolHandler (their "Binary Protocol Handler" section), used the way
// the verb docs use it, with their own test helpers (`verb/testing` → @verb-tcp/core/testing).
// The verb docs' switch becomes listeners: 0x01 is answered with 0x02 "pong",
// 0x10 goes to processDataMessage, 0x20 to handleFileTransfer, anything else to 'unknown'
// instead of console.log.
import { expect, test } from 'vitest'
import { createTCPClient, createTCPServer } from '@verb-tcp/core/testing'
import {
  type BinaryFrame,
  BinaryProtocolHandler,
  DATA,
  FILE_TRANSFER,
  HEARTBEAT,
  PONG,
} from '../src/index.ts'

test("the verb docs' binary protocol: heartbeat, data, file transfer and an unknown type", async () => {
  const processed: string[] = []
  const server = createTCPServer({
    port: 0,
    onConnection: (socket) => {
      const handler = new BinaryProtocolHandler(socket)
      const processDataMessage = (payload: Buffer) => processed.push(`data:${payload}`)
      const handleFileTransfer = (payload: Buffer) => processed.push(`file:${payload}`)
      handler.on(DATA, (message) => processDataMessage(message.payload))
      handler.on(FILE_TRANSFER, (message) => handleFileTransfer(message.payload))
      handler.on('unknown', (message) => {
        processed.push(`unknown:${message.type}`)
        handler.sendBinaryMessage(0x7e, Buffer.from('done'))
      })
    },
  })
  await server.ready

  const client = createTCPClient()
  const serverAddress = server.address()
  await client.connect(serverAddress.port, '127.0.0.1')

  const handler = new BinaryProtocolHandler(client)
  const replies: BinaryFrame[] = []
  const finished = new Promise<void>((resolve) =>
    handler.on('frame', (frame) => {
      replies.push(frame)
      if (frame.type === 0x7e) resolve()
    }),
  )
  handler.sendBinaryMessage(HEARTBEAT, Buffer.alloc(0))
  handler.sendBinaryMessage(DATA, Buffer.from('hello'))
  handler.sendBinaryMessage(FILE_TRANSFER, Buffer.from('chunk'))
  handler.sendBinaryMessage(0x99, Buffer.from('?'))
  await finished

  expect(replies.map((r) => [r.type, r.payload.toString()])).toEqual([
    [PONG, 'pong'],
    [0x7e, 'done'],
  ])
  expect(processed).toEqual(['data:hello', 'file:chunk', 'unknown:153'])

  client.destroy()
  await server.close({ gracePeriod: 0 })
})
