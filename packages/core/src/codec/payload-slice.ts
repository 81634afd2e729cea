/**
 * Where one frame's payload lies, handed to the part of a decoder that turns payload bytes into
 * a frame: `chunk[start..end)`, whose first byte is at stream offset `offset`. `owned` is true
 * when `chunk` was allocated for this payload alone (it spanned input chunks), false when it is
 * the caller's input chunk (so a frame that keeps it must copy, or accept the view).
 *
 * A decoder fills one of these per frame and reuses it: read it during the call, never keep it.
 */
export interface PayloadSlice {
  chunk: Buffer
  start: number
  end: number
  offset: number
  owned: boolean
}

/** A fresh, empty slice for a decoder to reuse. */
export function payloadSlice(): PayloadSlice {
  return { chunk: EMPTY, start: 0, end: 0, offset: 0, owned: false }
}

const EMPTY = Buffer.alloc(0)
