import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import type { TcpServer } from '@verb-tcp/core'

/** Everything a test opened, closed in `afterEach` by `closeAll`. */
const sockets = new Set<Socket>()
const servers = new Set<TcpServer>()
const cleanups = new Set<() => void>()

export function track(server: TcpServer): TcpServer {
  servers.add(server)
  return server
}

export function onCleanup(fn: () => void): void {
  cleanups.add(fn)
}

export async function closeAll(): Promise<void> {
  for (const socket of sockets) socket.destroy()
  sockets.clear()
  for (const fn of cleanups) fn()
  cleanups.clear()
  await Promise.all([...servers].map((server) => server.close({ gracePeriod: 0 })))
  servers.clear()
}

/** A connected loopback client, optionally from another 127.0.0.x source address. */
export async function client(port: number, localAddress?: string): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', ...(localAddress && { localAddress }) })
  sockets.add(socket)
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
