import type { TCPSocket } from '@verb-tcp/core'
import { createTCPClient, createTCPServer, type TestClient, until } from '@verb-tcp/core/testing'
import { MessageDecoder } from '@verb-tcp/json-frames'

/** A client that decodes every json-frames message it receives into `messages`. */
export interface Peer {
  socket: TestClient
  /** The server side of this connection. */
  server: TCPSocket
  messages: Record<string, unknown>[]
  errors: Error[]
}

/** A loopback server and `count` connected clients, each paired with its server-side socket. */
export async function peers(count: number): Promise<Peer[]> {
  const accepted: TCPSocket[] = []
  const server = createTCPServer({ onConnection: (socket) => void accepted.push(socket) })
  const { port } = await server.ready
  const out: Peer[] = []
  for (let i = 0; i < count; i++) {
    const socket = createTCPClient()
    await socket.connect(port, '127.0.0.1')
    await until(() => accepted.length === i + 1)
    const peer: Peer = { socket, server: accepted[i] as TCPSocket, messages: [], errors: [] }
    const decoder = new MessageDecoder<Record<string, unknown>>()
    const sink = {
      frame: (message: Record<string, unknown>) => void peer.messages.push(message),
      error: (error: Error) => void peer.errors.push(error),
    }
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, sink))
    out.push(peer)
  }
  return out
}

/** The messages of `type` a peer has received. */
export function ofType(peer: Peer, type: string): Record<string, unknown>[] {
  return peer.messages.filter((m) => m.type === type)
}
