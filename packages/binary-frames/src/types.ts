/** One decoded frame. */
export interface BinaryFrame {
  /** Message type, 0–65535. */
  type: number
  /** Flags, 0–65535, passed through as received. */
  flags: number
  /**
   * The payload. A view into the input chunk when the frame lay inside one chunk (unless
   * `copy: true`); a buffer of its own, exactly `length` bytes, when it spanned chunks. With
   * `slices: true`, a payload that spanned chunks is joined only when this is read.
   */
  payload: Buffer
  /**
   * Only with `slices: true`, and only when the payload spanned input chunks: the pieces it lies
   * in, in order, views of those chunks (pieces under 4 KiB are copied), never empty. Write them
   * with `writev` or feed them to a hash one by one, and the payload is never copied whole.
   * `frame.slices ?? [frame.payload]` covers both cases.
   */
  slices?: readonly Buffer[]
}

export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes; the 8-byte header is not counted. @default 8 MiB */
  maxFrameBytes?: number
  /**
   * A frame over the limit: `'error'` is fatal, at the header, before a byte of payload is
   * buffered. `'skip'` reports a recoverable `ERR_FRAME_TOO_LARGE` and discards exactly the
   * declared number of bytes, without buffering them. @default 'error'
   */
  oversize?: 'error' | 'skip'
  /**
   * Copy frames that lie inside one input chunk instead of returning views into it. Needed when
   * the source reuses its buffers (`net` `onread` with a static buffer, BYOB readers), or to stop
   * a small frame pinning a large chunk. Frames that span chunks always own their bytes.
   * @default false
   */
  copy?: boolean
  /**
   * Hand a payload that spans input chunks out as the list of pieces it lies in
   * (`frame.slices`) instead of joining it into one buffer: for large payloads that go straight
   * to a file or a hash (`writev`, `hash.update` per piece), the copy of every byte is saved.
   * The pieces are views of the input chunks, so, like `copy: false`, only for sources that do
   * not reuse their buffers; `copy: true` with `slices: true` is refused. @default false
   */
  slices?: boolean
  /**
   * The message types accepted. A frame of any other type is a recoverable `ERR_UNKNOWN_TYPE`
   * and its payload is skipped exactly, without buffering it. @default every type
   */
  types?: Iterable<number>
  /**
   * The flag bits a frame may have set. A frame with any other bit set is a recoverable
   * `ERR_RESERVED_FLAGS` and is skipped exactly. @default 0xffff (every bit)
   */
  allowedFlags?: number
}

export interface EncoderOptions {
  /** Largest payload the encoder will emit, in bytes (at most 2^32 − 1). @default 8 MiB */
  maxFrameBytes?: number
}
