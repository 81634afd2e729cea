/**
 * `@verb-tcp/mux`: many logical streams over one TCP connection, on the verb docs' frame.
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
export * from './constants.ts'
export { type ControlMessage, encodeControl, parseControl } from './control.ts'
export { MuxErrorCode, ResetCode, StreamResetError } from './errors.ts'
export { FlowWindow } from './flow-window.ts'
export { MuxFrameDecoder, type MuxFrameDecoderOptions } from './frame-decoder.ts'
export { createSession, MuxSession, type OpenOptions } from './session.ts'
export { MuxStream } from './stream.ts'
export type {
  GoAwayInfo,
  MuxFrame,
  MuxSessionEvents,
  MuxSessionOptions,
  PeerSettings,
  SessionRole,
  StreamInfo,
  StreamMetadata,
} from './types.ts'
