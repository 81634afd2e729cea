// A peer's reset or disconnect must never crash a server written the way the README shows
// (`stream.pipe(stream)`), nor one written with `pipeline()`: every case here would end the test
// process with an unhandled 'error' if a stream emitted one with nobody but `pipe` listening.
import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { PassThrough, pipeline, Transform } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, type MuxSession, type MuxStream } from '../src/index.ts'
import { readAll, until } from './helpers.ts'

type Handler = (stream: MuxStream) => void

const servers: Server[] = []
const sockets: Socket[] = []
const sessions: MuxSession[] = []
afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy()
  for (const s of sockets.splice(0)) s.destroy()
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
})

const upper = () =>
  new Transform({ transform: (c: Buffer, _e, cb) => cb(null, String(c).toUpperCase()) })

const handlers: [string, Handler][] = [
  ['stream.pipe(stream), as the README shows', (s) => s.pipe(s)],
  ['pipeline(stream, stream, callback)', (s) => pipeline(s, s, () => {})],
  ['pipeline(stream, transform, stream, callback)', (s) => pipeline(s, upper(), s, () => {})],
  ['pipe through a PassThrough', (s) => s.pipe(new PassThrough()).pipe(s)],
]

async function echoServer(handler: Handler) {
  const serverErrors: unknown[] = []
  const streamsSeen: MuxStream[] = []
  const server = createServer((socket) => {
    const session = createSession(socket, { role: 'acceptor' })
    sessions.push(session)
    session.on('stream', (s) => {
      streamsSeen.push(s)
      handler(s)
    })
  })
  servers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const dial = () => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    sockets.push(socket)
    const session = createSession(socket, { role: 'dialler' })
    sessions.push(session)
    return { socket, session }
  }
  return { dial, serverErrors, streamsSeen }
}

/** The server still echoes for a new client: it did not crash and is not wedged. */
async function stillServes(dial: () => { session: MuxSession }) {
  const { session } = dial()
  const s = session.open('echo')
  s.end('still here')
  expect(String(await readAll(s)).toLowerCase()).toBe('still here')
}

describe.each(handlers)('a server written with %s', (_name, handler) => {
  it('survives a client that writes a byte and then destroys its stream', async () => {
    const { dial, streamsSeen } = await echoServer(handler)
    const { session } = dial()
    for (let i = 0; i < 5; i++) {
      const s = session.open('echo')
      s.on('error', () => {})
      s.write('x')
      await until(() => streamsSeen.length === i + 1)
      s.destroy()
    }
    await until(() => streamsSeen.every((s) => s.destroyed))
    await stillServes(dial)
  })

  it('survives a client that ends its socket while a stream is open', async () => {
    const { dial, streamsSeen } = await echoServer(handler)
    const { socket, session } = dial()
    const s = session.open('echo')
    s.on('error', () => {})
    s.write('x')
    await until(() => streamsSeen.length === 1)
    socket.end()
    await until(() => streamsSeen[0]?.destroyed === true)
    await stillServes(dial)
  })

  it('survives a client that destroys its socket mid-transfer', async () => {
    const { dial, streamsSeen } = await echoServer(handler)
    const { socket, session } = dial()
    const s = session.open('echo')
    s.on('error', () => {})
    s.write(Buffer.alloc(256 * 1024))
    await until(() => streamsSeen.length === 1)
    socket.destroy()
    await until(() => streamsSeen[0]?.destroyed === true)
    await stillServes(dial)
  })
})

it('the error a peer caused is still delivered to pipeline and kept on the stream', async () => {
  const results: (Error | null | undefined)[] = []
  const { dial, streamsSeen } = await echoServer((s) => pipeline(s, s, (err) => results.push(err)))
  const { session } = dial()
  const s = session.open('echo')
  s.on('error', () => {})
  s.write('x')
  await until(() => streamsSeen.length === 1)
  s.reset(42)
  await until(() => results.length === 1)
  expect((results[0] as { code?: string }).code).toBe('ERR_MUX_STREAM_RESET')
  expect(streamsSeen[0]?.resetError?.code).toBe('ERR_MUX_STREAM_RESET')
})
