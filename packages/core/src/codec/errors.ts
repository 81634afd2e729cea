import { ProtocolError, type ProtocolErrorOptions } from '../errors.ts'

/** Error codes shared by every frame codec. */
export const CodecErrorCode = {
  /** A header declared a payload larger than the configured limit. */
  FRAME_TOO_LARGE: 'ERR_FRAME_TOO_LARGE',
  /** The input ended inside a frame. */
  TRUNCATED_FRAME: 'ERR_TRUNCATED_FRAME',
  /** A source delivered something other than bytes (a socket with `setEncoding`, say). */
  INVALID_CHUNK: 'ERR_INVALID_CHUNK',
  /**
   * A decoder produced `null` (JSON `null`, say), which a Node object stream would read as its
   * end. Recoverable: the frame is skipped.
   */
  NULL_FRAME: 'ERR_NULL_FRAME',
} as const

export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode]

/**
 * End of input inside a frame. `expected` is undefined when the input ended inside a header,
 * before the length was known.
 */
export class TruncatedFrameError extends ProtocolError<typeof CodecErrorCode.TRUNCATED_FRAME> {
  readonly expected: number | undefined
  readonly received: number

  constructor(
    expected: number | undefined,
    received: number,
    options: ProtocolErrorOptions & { what?: string } = {},
  ) {
    const { what = expected === undefined ? 'header' : 'payload', ...rest } = options
    const counts = expected === undefined ? `${received} bytes` : `${received} of ${expected} bytes`
    super(CodecErrorCode.TRUNCATED_FRAME, `input ended inside a frame ${what} (${counts})`, {
      ...rest,
      ...(expected === undefined ? {} : { declaredLength: expected }),
    })
    this.expected = expected
    this.received = received
  }
}

/** Up to `max` bytes as spaced hex, for error messages about bytes that were not ours. */
export function hexPreview(bytes: Uint8Array, max = 16): string {
  const shown = bytes.subarray(0, max)
  let out = ''
  for (let i = 0; i < shown.length; i++) {
    out += (i === 0 ? '' : ' ') + (shown[i] as number).toString(16).padStart(2, '0')
  }
  return bytes.length > max ? `${out} …` : out
}
