import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import type { TcpServer } from '@verb-tcp/core'
import { defer } from '@verb-tcp/core/testing'

// What a test opened is closed by core's `closeAll` (in `afterEach`), through `defer`.
export { closeAll, defer as onCleanup } from '@verb-tcp/core/testing'

export function track(server: TcpServer): TcpServer {
  defer(() => server.close({ gracePeriod: 0 }))
  return server
}

/** A connected loopback client, optionally from another 127.0.0.x source address. */
export async function client(port: number, localAddress?: string): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', ...(localAddress && { localAddress }) })
  defer(() => socket.destroy())
  socket.on('error', () => {})
  await once(socket, 'connect')
  return socket
}

/** Everything the peer sends until it closes, as a string. */
export async function readAll(socket: Socket): Promise<string> {
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  if (!socket.closed) await once(socket, 'close')
  return Buffer.concat(chunks).toString()
}

/** One echo round trip: true if the server answered `text` with `text`. */
export async function echoes(socket: Socket, text = 'ping'): Promise<boolean> {
  const reply = new Promise<string>((resolve) => {
    let got = ''
    const onData = (chunk: Buffer) => {
      got += chunk.toString()
      if (got.length >= text.length) {
        socket.off('data', onData)
        resolve(got)
      }
    }
    socket.on('data', onData)
    socket.once('close', () => resolve(got))
  })
  socket.write(text)
  return (await reply) === text
}

export { until } from '@verb-tcp/core/testing'
