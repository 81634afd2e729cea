/**
 * `@verb-tcp/mux/wire`: the wire format of `@verb-tcp/mux`, for people who write their own peer,
 * a protocol analyser or tests: the incremental frame decoder (a core `SyncDecoder`), the
 * control-message codec and the protocol constants. Applications use the main entry.
 *
 * @example
 * ```ts
 * import { decodeAll } from '@verb-tcp/core/codec'
 * import { encodeControl, MuxFrameDecoder } from '@verb-tcp/mux/wire'
 *
 * const bytes = encodeControl({ type: 'ping', id: 7 })
 * const { frames } = decodeAll(new MuxFrameDecoder(), [bytes])
 * // frames[0]: { streamId: 0, length: 21, offset: 0, start: true, payload: <'{"type":"ping","id":7}'> }
 * ```
 * @packageDocumentation
 */
export * from './constants.ts'
export { type ControlMessage, encodeControl, parseControl } from './control.ts'
export { MuxFrameDecoder, type MuxFrameDecoderOptions } from './frame-decoder.ts'
export type { MuxFrame } from './types.ts'
