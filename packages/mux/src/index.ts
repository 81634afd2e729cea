/**
 * `@verb-tcp/mux`: many logical streams over one TCP connection, on the verb docs' frame
 * (8-byte header: u32 BE stream id, u32 BE length; JSON control messages on stream 0), with
 * per-stream and per-session flow control. The frame decoder, the control-message codec and
 * the wire constants are on `@verb-tcp/mux/wire`, for people who write their own peer or tests.
 *
 * @example
 * ```ts
 * import { connect, createServer } from 'node:net'
 * import { createSession } from '@verb-tcp/mux'
 *
 * createServer((socket) => {
 *   const session = createSession(socket, { role: 'acceptor' })
 *   session.on('stream', (stream) => stream.pipe(stream)) // echo
 * }).listen(8080, '127.0.0.1')
 *
 * const session = createSession(connect(8080, '127.0.0.1'), { role: 'dialler' })
 * const stream = session.open('echo', { user: 'ada' })
 * stream.end('hello')
 * for await (const chunk of stream) process.stdout.write(chunk) // hello
 * ```
 * @packageDocumentation
 */
export { MuxErrorCode, ResetCode, StreamResetError } from './errors.ts'
export {
  createSession,
  MuxSession,
  type MuxSessionEvents,
  type OpenOptions,
} from './session.ts'
export { MuxStream } from './stream.ts'
export type {
  GoAwayInfo,
  MuxSessionOptions,
  PeerSettings,
  SessionRole,
  StreamInfo,
  StreamMetadata,
} from './types.ts'
