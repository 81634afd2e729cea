// The README's examples, as written there (only the port and cleanup differ).
import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { encodeMessage, iterateMessages, MessageHandler } from '../src/index.ts'

let server: Server | undefined
let client: Socket | undefined
afterEach(async () => {
  client?.destroy()
  await new Promise((r) => server?.close(r))
})

it('README: echo server and client with MessageHandler', async () => {
  server = createServer((socket) => {
    const messages = new MessageHandler(socket)
    messages.on('message', (message) => {
      messages.sendMessage({ type: 'response', echo: message.data })
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo

  client = connect(port, '127.0.0.1')
  const messages = new MessageHandler(client)
  messages.sendMessage({ type: 'test', data: 'héllo' })
  const [reply] = await once(messages, 'message')
  expect(reply).toEqual({ type: 'response', echo: 'héllo' })
})

it('README: iterating messages from a socket', async () => {
  server = createServer((socket) =>
    socket.end(Buffer.concat([encodeMessage({ type: 'a' }), encodeMessage({ type: 'b' })])),
  )
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const seen: unknown[] = []

  const socket = connect(port, '127.0.0.1')
  client = socket
  for await (const message of iterateMessages(socket, { maxFrameBytes: 64 * 1024 })) {
    seen.push(message)
  }
  expect(seen).toEqual([{ type: 'a' }, { type: 'b' }])
})
