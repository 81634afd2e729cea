// The README's example, as written there (only the port and cleanup differ).
import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { createSession, type MuxSession } from '../src/index.ts'

let server: Server | undefined
let client: Socket | undefined
const sessions: MuxSession[] = []
afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy()
  client?.destroy()
  await new Promise((r) => server?.close(r))
})

it('README: echo server and a client stream with metadata', async () => {
  server = createServer((socket) => {
    const session = createSession(socket, { role: 'acceptor' })
    sessions.push(session)
    session.on('stream', (stream) => {
      // stream.type === 'echo', stream.metadata = { user: 'ada' }
      stream.pipe(stream) // echo, with backpressure; end() when the peer ends
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo

  client = connect(port, '127.0.0.1')
  const session = createSession(client, { role: 'dialler' })
  sessions.push(session)
  const stream = session.open('echo', { user: 'ada' })
  stream.end('hello')
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk)
  expect(Buffer.concat(chunks).toString()).toBe('hello')
  expect(await session.ping()).toBeGreaterThanOrEqual(0)
  await session.close()
  expect(session.closed).toBe(true)
})
