// Frames that carry little or no credit (zero-length data, 1-byte data, control messages of
// unknown types) cost the receiver work that flow control does not bound. A budget of such
// frames per second closes a session that floods them, with a coded error, while a well-behaved
// session on the same server goes on.
import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, type MuxSession, type MuxStream } from '../src/index.ts'
import { bytes, closeError, ctrl, frame, HELLO, readAll, until } from './helpers.ts'

const RATE = 2000
const servers: Server[] = []
const sockets: Socket[] = []
const sessions: MuxSession[] = []
afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy()
  for (const s of sockets.splice(0)) s.destroy()
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
})

async function server() {
  const accepted: MuxSession[] = []
  const delivered = new Map<MuxSession, number>()
  const srv = createServer((socket) => {
    const session = createSession(socket, {
      role: 'acceptor',
      keepAliveInterval: 0,
      maxSmallFramesPerSecond: RATE,
    })
    sessions.push(session)
    accepted.push(session)
    delivered.set(session, 0)
    session.on('stream', (s: MuxStream) => {
      if (s.type === 'echo') s.pipe(s)
      else
        s.on('data', (c: Buffer) => {
          delivered.set(session, (delivered.get(session) ?? 0) + c.length)
        })
    })
  })
  servers.push(srv)
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  return { port: (srv.address() as AddressInfo).port, accepted, delivered }
}

async function rawClient(port: number) {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  sockets.push(socket)
  await once(socket, 'connect')
  socket.on('data', () => {})
  return socket
}

const FLOOD = 100_000
const floods: [string, () => Buffer][] = [
  ['zero-length data frames', () => frame(1, Buffer.alloc(0))],
  ['1-byte data frames', () => frame(1, 'x')],
  ['control messages of an unknown type', () => ctrl({ type: 'nothing-to-see' })],
]

describe.each(floods)('a flood of %s', (_name, make) => {
  it('closes the session with ERR_MUX_RATE_LIMITED; a well-behaved session is unaffected', async () => {
    const { port, accepted, delivered } = await server()

    // The well-behaved neighbour, connected first.
    const good = createSession(await rawClient(port), { role: 'dialler', keepAliveInterval: 0 })
    sessions.push(good)
    await until(() => accepted.length === 1)

    const raw = await rawClient(port)
    await until(() => accepted.length === 2)
    const victim = accepted[1] as MuxSession
    const closed = closeError(victim)
    const one = make()
    const flood = Buffer.allocUnsafe(one.length * FLOOD)
    for (let i = 0; i < FLOOD; i++) one.copy(flood, i * one.length)
    const started = performance.now()
    raw.write(
      Buffer.concat([
        ctrl(HELLO),
        ctrl({ type: 'stream_create', streamId: 1, streamType: 'sink', metadata: {} }),
        flood,
      ]),
    )

    const payload = bytes(1 << 20)
    const echo = good.open('echo')
    echo.end(payload)
    const [error, back] = await Promise.all([closed, readAll(echo)])
    const seconds = (performance.now() - started) / 1000
    expect(error).toMatchObject({ code: 'ERR_MUX_RATE_LIMITED', limit: RATE })
    // Work done for the flood is bounded by the budget (burst + rate × time), not its size.
    expect(delivered.get(victim)).toBeLessThanOrEqual(RATE + Math.ceil(RATE * seconds) + 1)
    expect(back.equals(payload)).toBe(true)
    expect(good.closed).toBe(false)
    expect(accepted[0]?.closed).toBe(false)
  })
})

describe('a session that opens and resets streams as fast as it can (rapid reset)', () => {
  it('is closed with ERR_MUX_RATE_LIMITED by maxEmptyResets; a well-behaved session is unaffected', async () => {
    const { port, accepted } = await server()
    const good = createSession(await rawClient(port), { role: 'dialler', keepAliveInterval: 0 })
    sessions.push(good)
    await until(() => accepted.length === 1)
    let served = 0
    ;(accepted[0] as MuxSession).on('stream', () => served++)

    const attacker = createSession(await rawClient(port), { role: 'dialler', keepAliveInterval: 0 })
    attacker.on('error', () => {})
    sessions.push(attacker)
    await until(() => accepted.length === 2)
    const victim = accepted[1] as MuxSession
    let streams = 0
    victim.on('stream', () => streams++)
    const closed = closeError(victim)
    const started = performance.now()
    const flood = async () => {
      // Bounded: 100,000 streams at most, whatever happens.
      for (let turn = 0; turn < 1000 && !attacker.closed; turn++) {
        for (let k = 0; k < 100; k++) {
          try {
            const s = attacker.open('sink')
            s.on('error', () => {})
            s.reset()
          } catch {
            return // goaway received: the server closed us
          }
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    const payload = bytes(1 << 20)
    const echo = good.open('echo')
    echo.end(payload)
    const [error, back] = await Promise.all([closed, readAll(echo), flood()])
    const seconds = (performance.now() - started) / 1000
    expect(error).toMatchObject({ code: 'ERR_MUX_RATE_LIMITED', limit: 200 })
    // Streams set up for the flood: the budget, its refill (a tenth per second), and the one
    // whose reset went over it.
    expect(streams).toBeLessThanOrEqual(200 + Math.ceil(20 * seconds) + 1)
    expect(back.equals(payload)).toBe(true)
    expect(served).toBe(1)
    expect(good.closed).toBe(false)
    expect(accepted[0]?.closed).toBe(false)
  })
})
