import type { Socket } from 'node:net'
import { MessageHandler } from '@verb-tcp/json-frames'
import { dial } from './dial.ts'

// biome-ignore lint/suspicious/noExplicitAny: the server's messages are read field by field
export type Msg = Record<string, any>

/** A json-frames connection to the message port. */
export interface MessageConnection {
  socket: Socket
  handler: MessageHandler<Msg>
  send(message: Msg): boolean
}

/** Connects, or rejects with the connection error (ECONNREFUSED when no server listens). */
export async function connectMessages(host: string, port: number): Promise<MessageConnection> {
  const socket = await dial(host, port)
  const handler = new MessageHandler<Msg>(socket)
  handler.on('error', () => {})
  return { socket, handler, send: (message) => handler.sendMessage(message) }
}

/** The one sentence a person needs when the server is not there. */
export function explain(error: unknown, host: string, port: number): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ECONNREFUSED')
    return `nothing listens on ${host}:${port}: is the server running (npm start)?`
  return `could not connect to ${host}:${port}: ${(error as Error).message}`
}
