/**
 * `@verb-tcp/json-frames/codec`: the `<byte length>\n<payload>` state machine itself, for
 * people who write their own decoder on this framing (payloads that are not JSON, say).
 * Applications use `MessageDecoder`, `FrameDecoder` and the adapters from the main entry.
 *
 * @example
 * ```ts
 * import type { DecodeSink, PayloadSlice } from '@verb-tcp/core/codec'
 * import { NewlineLengthDecoder } from '@verb-tcp/json-frames/codec'
 *
 * class TextDecoder extends NewlineLengthDecoder<string> {
 *   protected onPayload(slice: PayloadSlice, sink: DecodeSink<string>): void {
 *     sink.frame(slice.chunk.toString('utf8', slice.start, slice.end))
 *   }
 * }
 * ```
 * @packageDocumentation
 */
export { MAX_SKIP_DIGITS } from './constants.ts'
export { NewlineLengthDecoder } from './frame-decoder.ts'
