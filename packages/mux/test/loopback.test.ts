import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, type MuxStream } from '../src/index.ts'
import {
  bytes,
  closeAll,
  closeError,
  type Loopback,
  loopback,
  readAll,
  sessionPair,
  track,
} from './helpers.ts'

const nets: Loopback[] = []
afterEach(async () => {
  await closeAll()
  for (const l of nets.splice(0)) {
    l.client.destroy()
    l.serverSocket.destroy()
    await new Promise((r) => l.server.close(r))
  }
})

async function pair() {
  const net = await loopback()
  nets.push(net)
  const dialler = track(createSession(net.client, { role: 'dialler', keepAliveInterval: 0 }))
  const acceptor = track(
    createSession(net.serverSocket, { role: 'acceptor', keepAliveInterval: 0 }),
  )
  return { net, dialler, acceptor }
}

describe('frames split at every byte', () => {
  it('a session over a pipe that delivers one byte at a time works end to end', async () => {
    const { dialler, acceptor } = sessionPair({}, undefined, { split: 1 })
    acceptor.on('stream', (s: MuxStream) => s.pipe(s))
    const payload = bytes(5000)
    const s = dialler.open('echo', { note: 'byte by byte' })
    s.end(payload)
    expect((await readAll(s)).equals(payload)).toBe(true)
    expect(await dialler.ping()).toBeGreaterThanOrEqual(0)
  })
})

describe('loopback', () => {
  it('echoes 16 streams × 1 MiB concurrently over a real socket', async () => {
    const { dialler, acceptor } = await pair()
    acceptor.on('stream', (s: MuxStream) => s.pipe(s))
    const payloads = Array.from({ length: 16 }, (_, i) => bytes(1 << 20, i + 1))
    const results = await Promise.all(
      payloads.map((p, i) => {
        const s = dialler.open('echo', { i })
        s.end(p)
        return readAll(s)
      }),
    )
    results.forEach((r, i) => {
      expect(r.equals(payloads[i] as Buffer)).toBe(true)
    })
    expect(await dialler.ping()).toBeGreaterThanOrEqual(0)
  })

  it('graceful close ends both sides', async () => {
    const { dialler, acceptor } = await pair()
    acceptor.on('stream', (s: MuxStream) => s.pipe(s))
    const s = dialler.open('echo')
    s.end('x')
    await readAll(s)
    await dialler.close()
    await (acceptor.closed ? Promise.resolve() : once(acceptor, 'close'))
    expect(dialler.error).toBeUndefined()
  })

  it('garbage on the socket closes the session with a coded error, no crash', async () => {
    const { net, acceptor } = await pair()
    const closed = closeError(acceptor)
    net.client.write('GET / HTTP/1.1\r\nHost: example\r\n\r\n')
    expect(await closed).toMatchObject({ code: 'ERR_FRAME_TOO_LARGE' })
  })

  it('the peer vanishing destroys open streams with ERR_MUX_SESSION_CLOSED', async () => {
    const { net, dialler, acceptor } = await pair()
    acceptor.on('stream', () => {})
    const s = dialler.open('x')
    s.write('hello')
    const err = once(s, 'error')
    net.serverSocket.destroy()
    expect((await err)[0]).toMatchObject({ code: 'ERR_MUX_SESSION_CLOSED' })
  })
})

describe('no crash without listeners', () => {
  it('writing to a stream after the socket was destroyed under it', async () => {
    const { net, dialler, acceptor } = await pair()
    acceptor.on('stream', () => {})
    const s = dialler.open('x') // no 'error' listener on purpose
    net.client.destroy()
    s.write('after') // must not throw or emit an unhandled 'error'
    s.end()
    await new Promise((r) => s.once('close', r))
    expect(s.destroyed).toBe(true)
    await new Promise((r) => setImmediate(r))
  })

  it('a socket with setEncoding is a coded error, not a throw', async () => {
    const { net, acceptor } = await pair()
    net.serverSocket.setEncoding('utf8')
    const closed = closeError(acceptor)
    net.client.write('abc')
    expect(await closed).toMatchObject({ code: 'ERR_INVALID_CHUNK' })
  })
})
