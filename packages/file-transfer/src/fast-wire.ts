import { ACK_BYTES, DATA_PREFIX_BYTES, DATA_PREFIX_CRC_BYTES } from './constants.ts'

/** A 32-hex transfer id as its 16 bytes, written at `at`. */
export function writeId(out: Buffer, id: string, at = 0): void {
  out.write(id, at, 16, 'hex')
}

export function readId(payload: Uint8Array, at = 0): string {
  return Buffer.from(payload.buffer, payload.byteOffset + at, 16).toString('hex')
}

/** u64 big-endian; offsets stay below 2^53. */
export function writeOffset(out: Buffer, offset: number, at: number): void {
  out.writeUInt32BE(Math.floor(offset / 2 ** 32), at)
  out.writeUInt32BE(offset >>> 0, at + 4)
}

export function readOffset(payload: Uint8Array, at: number): number {
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  return view.readUInt32BE(at) * 2 ** 32 + view.readUInt32BE(at + 4)
}

export function dataPrefixBytes(withCrc: boolean): number {
  return withCrc ? DATA_PREFIX_CRC_BYTES : DATA_PREFIX_BYTES
}

export function encodeAck(id: string, offset: number): Buffer {
  const out = Buffer.allocUnsafe(ACK_BYTES)
  writeId(out, id)
  writeOffset(out, offset, 16)
  return out
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value))
}

/** A control payload as an object, or `undefined` when it is not a JSON object. */
// biome-ignore lint/suspicious/noExplicitAny: fields are checked by the caller
export function decodeJson(payload: Uint8Array): Record<string, any> | undefined {
  try {
    const value = JSON.parse(
      Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'),
    )
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * The first `bytes` of a payload that came as `pieces`, and the pieces of the rest (empty ones
 * left out). The prefix is a view when the first piece holds it, a copy of those few bytes
 * otherwise; `head` is undefined when the payload is shorter than `bytes`.
 */
export function splitPrefix(
  pieces: readonly Buffer[],
  bytes: number,
): [head: Buffer | undefined, rest: Buffer[]] {
  const first = pieces[0]
  if (first !== undefined && first.length >= bytes) {
    const rest = first.length > bytes ? [first.subarray(bytes)] : []
    for (let i = 1; i < pieces.length; i++) {
      const piece = pieces[i] as Buffer
      if (piece.length > 0) rest.push(piece)
    }
    return [first.subarray(0, bytes), rest]
  }
  const head = Buffer.allocUnsafe(bytes)
  let filled = 0
  const rest: Buffer[] = []
  for (const piece of pieces) {
    const n = Math.min(bytes - filled, piece.length)
    if (n > 0) {
      piece.copy(head, filled, 0, n)
      filled += n
    }
    if (n < piece.length) rest.push(piece.subarray(n))
  }
  return [filled === bytes ? head : undefined, rest]
}
