import { once } from 'node:events'
import { connect, createServer, type Server, type ServerOpts, type Socket } from 'node:net'

/** A loopback server on a free port; `close()` destroys every connection too. */
export interface Listening {
  readonly port: number
  close(): Promise<void>
}

export async function listen(
  onSocket: (socket: Socket) => void,
  options: ServerOpts = {},
): Promise<Listening & { server: Server }> {
  const sockets = new Set<Socket>()
  const server = createServer(options, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onSocket(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    server,
    port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * A proxy in front of a server on `upstreamPort`: `wire(client, server)` moves the data (and
 * breaks what it breaks); ends, closes and errors pass through both ways.
 */
export function proxy(
  upstreamPort: number,
  wire: (client: Socket, server: Socket) => void,
): Promise<Listening> {
  return listen((client) => {
    const server = connect(upstreamPort, '127.0.0.1')
    server.on('error', () => client.destroy())
    client.on('close', () => server.destroy())
    server.on('close', () => client.destroy())
    client.on('end', () => server.end())
    server.on('end', () => client.end())
    wire(client, server)
  })
}
