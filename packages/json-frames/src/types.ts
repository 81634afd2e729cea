export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes; the header is not counted. @default 8 MiB */
  maxFrameBytes?: number
  /**
   * A frame over the limit: `'error'` is fatal, at the header, before a byte of payload is
   * buffered. `'skip'` reports a recoverable `ERR_FRAME_TOO_LARGE` and discards exactly the
   * declared number of bytes. @default 'error'
   */
  oversize?: 'error' | 'skip'
}

export interface RawFrameDecoderOptions extends FrameDecoderOptions {
  /**
   * Copy frames that lie inside one input chunk instead of returning views into it. Needed when
   * the source reuses its buffers, or to avoid a small frame pinning a large chunk. Frames that
   * span chunks are always their own exact-size copy. @default false
   */
  copy?: boolean
}

export interface MessageDecoderOptions extends FrameDecoderOptions {
  /**
   * Require every message to be a JSON object with a string `type` (as the verb docs' messages are);
   * anything else is a recoverable `ERR_INVALID_MESSAGE`. @default false
   */
  requireType?: boolean
}

export interface EncoderOptions {
  /** Largest payload the encoder will emit, in bytes. @default 8 MiB */
  maxFrameBytes?: number
}
