import { once } from 'node:events'
import { TLSSocket, connect as tlsConnect } from 'node:tls'
import { describe, expect, it } from 'vitest'
import { ServerProtocol } from '../src/constants.ts'
import { createServer } from '../src/server.ts'
import type { TCPSocket } from '../src/types.ts'
import { defer, dial, fixture, nextCall, readBytes, track } from './helpers.ts'

const key = fixture('key.pem')
const cert = fixture('cert.pem')

function tlsServer() {
  const accepted = nextCall<[TCPSocket]>()
  const failed = nextCall<[Error, TCPSocket | undefined]>()
  const app = track(
    createServer(ServerProtocol.TLS)
      .withOptions({ tcp: { tls: { key, cert }, timeout: 0 } })
      .onConnection((socket) => {
        accepted.fn(socket)
        socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from('Echo: '), d])))
      })
      .onError(failed.fn),
  )
  return { app, accepted: accepted.called, failed: failed.called }
}

describe('ServerProtocol.TLS', () => {
  it('serves TLS with the given certificate and hands over a TLSSocket', async () => {
    const { app, accepted } = tlsServer()
    const { port } = await app.listen()
    const client = tlsConnect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' })
    defer(() => client.destroy())
    await once(client, 'secureConnect')
    expect(client.authorized).toBe(true)
    const [socket] = await accepted
    expect(socket).toBeInstanceOf(TLSSocket)
    expect((socket as TLSSocket).encrypted).toBe(true)
    client.write('héllo')
    expect((await readBytes(client as never, 12)).toString()).toBe('Echo: héllo')
    expect(app.connections.size).toBe(1)
  })

  it('reports a plain-TCP client to onError and keeps serving', async () => {
    const { app, failed } = tlsServer()
    const { port } = await app.listen()
    const plain = await dial(port)
    plain.write('GET / HTTP/1.1\r\n\r\n')
    const [error] = await failed
    expect(error.message).toMatch(/wrong version number|ssl|tls|packet/i)
    const client = tlsConnect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' })
    defer(() => client.destroy())
    await once(client, 'secureConnect')
  })

  it('closes gracefully, forcing a connection still in its handshake', async () => {
    const { app } = tlsServer()
    const { port } = await app.listen()
    await dial(port) // connects at TCP level, never starts the handshake
    const result = await app.close({ gracePeriod: 50 })
    expect(result).toEqual({ closed: 0, forced: 1 })
  })
})
