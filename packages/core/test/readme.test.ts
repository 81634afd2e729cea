// The README's example, with port 0 instead of 8080 and a stub logger.
import { once } from 'node:events'
import { expect, it, vi } from 'vitest'
import { createServer, ServerProtocol } from '../src/index.ts'
import { dial, readBytes } from './helpers.ts'

it('runs the README example', async () => {
  const log = { warn: vi.fn() }
  const app = createServer(ServerProtocol.TCP).withOptions({
    port: 0,
    host: '127.0.0.1',
    tcp: {
      onConnection: (socket) => {
        socket.write('Welcome to TCP server!\n')
        socket.on('data', (data) => socket.write(Buffer.concat([Buffer.from('Echo: '), data])))
      },
      onError: (error, socket) => log.warn({ err: error, peer: socket?.remoteAddress }),
    },
  })

  const address = await app.listen()
  const exit = vi.fn()
  app.handleSignals({
    gracePeriod: 10_000,
    notify: (s) => s.write('{"type":"server_shutdown"}'),
    exit,
  })

  const client = await dial(address.port)
  expect((await readBytes(client, 23)).toString()).toBe('Welcome to TCP server!\n')
  client.write('😀')
  expect((await readBytes(client, 10)).toString()).toBe('Echo: 😀')
  client.on('data', () => client.end())
  process.emit('SIGTERM', 'SIGTERM')
  await once(client, 'close')
  await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0, { closed: 1, forced: 0 }))
  expect(process.listenerCount('SIGTERM')).toBe(0)
  expect(log.warn).not.toHaveBeenCalled()
})
