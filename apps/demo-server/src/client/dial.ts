import { once } from 'node:events'
import { connect, type Socket } from 'node:net'

/**
 * Connects, or rejects with the connection error (ECONNREFUSED when no server listens). After
 * the connect, errors are swallowed: every caller sees a reset as `'close'`, and an `'error'`
 * with no listener would crash the client.
 */
export async function dial(host: string, port: number, noDelay = true): Promise<Socket> {
  const socket = connect(port, host)
  socket.setNoDelay(noDelay)
  await Promise.race([
    once(socket, 'connect'),
    once(socket, 'error').then(([error]) => Promise.reject(error)),
  ])
  socket.on('error', () => {})
  return socket
}
