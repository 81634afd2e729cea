// Graceful shutdown whatever the clients do with the goodbye: answer it with a reset, end, or
// never answer. A reset is a connection that ended, so close() resolves with counts.
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { expect, it, vi } from 'vitest'
import { createServer } from '../src/server.ts'
import { until } from '../src/testing.ts'
import { defer, track } from './helpers.ts'

const goodbye = (s: Socket) => s.write('{"type":"server_shutdown"}\n')

async function dialAll(port: number, n: number): Promise<Socket[]> {
  const sockets: Socket[] = []
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, () => {
      const s = connect(port, '127.0.0.1')
      s.on('error', () => {})
      defer(() => s.destroy())
      return s
    })
    await Promise.all(batch.map((s) => once(s, 'connect')))
    sockets.push(...batch)
  }
  return sockets
}

it('resolves close() with counts when a client answers the goodbye with a reset', async () => {
  const onError = vi.fn()
  const app = track(createServer().onError(onError))
  const { port } = await app.listen()
  const [client] = await dialAll(port, 1)
  if (!client) throw new Error('no client')
  client.on('data', () => client.resetAndDestroy())
  await until(() => app.connections.size === 1)

  await expect(app.close({ gracePeriod: 10_000, notify: goodbye })).resolves.toEqual({
    closed: 1,
    forced: 0,
  })
  // A second close and a new listen work as after any close.
  await expect(app.close()).resolves.toEqual({ closed: 0, forced: 0 })
  const again = await app.listen()
  expect(again.port).toBeGreaterThan(0)
  expect(app.listening).toBe(true)
  // The reset itself is a peer's error: reported, never thrown.
  for (const [error] of onError.mock.calls) expect(error.code).toBe('ECONNRESET')
})

it('resolves close() with 1,000 clients that reset, end or never answer', async () => {
  const app = track(createServer())
  const { port } = await app.listen()
  const clients = await dialAll(port, 1000)
  await until(() => app.connections.size === 1000)
  const silent: Socket[] = []
  clients.forEach((client, i) => {
    if (i % 3 === 0) client.on('data', () => client.resetAndDestroy())
    else if (i % 3 === 1) client.on('data', () => client.end())
    else silent.push(client)
  })
  const resetOrEnd = clients.length - silent.length

  const closing = app.close({ gracePeriod: 60_000, notify: goodbye })
  // Once only the silent ones are left, move the deadline to now.
  await until(() => app.connections.size === silent.length, { waits: 3000 })
  await expect(app.close({ gracePeriod: 0 })).resolves.toEqual({
    closed: resetOrEnd,
    forced: silent.length,
  })
  await expect(closing).resolves.toEqual({ closed: resetOrEnd, forced: silent.length })
  expect(app.connections.size).toBe(0)
  await expect(app.listen()).resolves.toMatchObject({ family: 'IPv4' })
})
