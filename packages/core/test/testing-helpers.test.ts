import { describe, expect, it } from 'vitest'
import { createTCPClient, createTCPServer } from '../src/testing.ts'
import { defer } from './helpers.ts'

describe('testing helpers', () => {
  it('createTCPServer is bound when it returns and ready resolves with the same address', async () => {
    const server = createTCPServer()
    defer(() => server.close({ gracePeriod: 0 }))
    const address = server.address()
    expect(address.address).toBe('127.0.0.1')
    expect(await server.ready).toEqual(address)
  })

  it('createTCPClient connects with a promise and is a real socket', async () => {
    const server = createTCPServer({ onConnection: (s) => s.end('x') })
    defer(() => server.close({ gracePeriod: 0 }))
    const client = createTCPClient()
    defer(() => client.destroy())
    const connecting = client.connect(server.address().port, '127.0.0.1')
    expect(connecting).toBeInstanceOf(Promise)
    expect(await connecting).toBe(client)
    expect(client.remotePort).toBe(server.address().port)
  })

  it('rejects connect() for a port nobody listens on', async () => {
    const server = createTCPServer()
    const { port } = server.address()
    await server.close()
    const client = createTCPClient()
    defer(() => client.destroy())
    await expect(client.connect(port, '127.0.0.1')).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('keeps a later socket error in lastError instead of crashing', async () => {
    const server = createTCPServer({
      onConnection: (s) => s.once('data', () => s.resetAndDestroy()),
    })
    defer(() => server.close({ gracePeriod: 0 }))
    const client = createTCPClient()
    defer(() => client.destroy())
    const closed = new Promise((r) => client.once('close', r))
    await client.connect(server.address().port, '127.0.0.1')
    client.resume() // a socket that does not read never sees the reset
    client.write('reset me')
    await closed
    expect(client.lastError).toMatchObject({ code: 'ECONNRESET' })
  })
})
