import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { afterEach } from 'vitest'
import type { TcpServer } from '../src/server.ts'
import { closeAll, defer } from '../src/testing.ts'

// Whatever a test registered with `defer` (and the testing helpers opened) is closed after it.
afterEach(closeAll)

export { defer }

export function track<T extends TcpServer>(app: T): T {
  defer(() => app.close({ gracePeriod: 0 }))
  return app
}

/** A plain client socket on loopback, connected, closed after the test. */
export async function dial(port: number, host = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host })
  socket.on('error', () => {})
  defer(() => socket.destroy())
  await once(socket, 'connect')
  return socket
}

/** Collects bytes until at least `n` arrived or the socket ends; leaves the socket open. */
export function readBytes(socket: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let total = 0
    const done = () => {
      socket.off('data', onData)
      socket.off('end', done)
      socket.off('close', done)
      resolve(Buffer.concat(chunks))
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      total += chunk.length
      if (total >= n) done()
    }
    socket.on('data', onData)
    socket.once('end', done)
    socket.once('close', done)
  })
}

/** Resolves with the arguments of the next call of the returned function. */
export function nextCall<A extends unknown[]>(): { fn: (...args: A) => void; called: Promise<A> } {
  let resolve!: (args: A) => void
  const called = new Promise<A>((r) => {
    resolve = r
  })
  return { fn: (...args: A) => resolve(args), called }
}

export const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

/**
 * Finds a connection in /proc/net/tcp by its local and remote ports (Linux only) and returns its
 * timer fields: `active` 2 means the keep-alive timer runs, `ticks` is clock ticks (1/100 s) left.
 */
export function kernelTimer(
  localPort: number,
  remotePort: number,
): { active: number; ticks: number } | undefined {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0')
  let table: string
  try {
    table = readFileSync('/proc/net/tcp', 'utf8')
  } catch {
    return undefined
  }
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f[1]?.endsWith(`:${hex(localPort)}`) && f[2]?.endsWith(`:${hex(remotePort)}`)) {
      const [active = '0', when = '0'] = (f[5] ?? '').split(':')
      return { active: Number.parseInt(active, 16), ticks: Number.parseInt(when, 16) }
    }
  }
  return undefined
}
