import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Duplex } from 'node:stream'
import { crc32 } from 'node:zlib'
import { BinaryProtocolHandler, encodeFrame, FILE_TRANSFER } from '@verb-tcp/binary-frames'
import { afterEach, describe, expect, it } from 'vitest'
import { splitPrefix } from '../src/fast-wire.ts'
import { CHUNK_CRC, type FileReceiver, Op, receiveFiles } from '../src/index.ts'
import { cleanup, dataFrame, FastClient, receiver, sandbox, sha256 } from './helpers.ts'

afterEach(cleanup)

/**
 * Two connected in-memory ends. What the client end writes reaches the server end; `deliver`
 * hands the server end one chunk exactly as given, as one socket read would.
 */
function pair() {
  let server: Duplex | undefined
  const client = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      server?.push(chunk)
      callback()
    },
  })
  server = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      client.push(chunk)
      callback()
    },
  })
  const s = server
  return { client, server: s, deliver: (chunk: Buffer) => s.push(Buffer.from(chunk)) }
}

const offsetOf = (ack: Buffer) => ack.readUInt32BE(16) * 2 ** 32 + ack.readUInt32BE(20)

/** The receiver on the in-memory end: binary-frames' slices (the default) or joined chunks. */
function serve(server: Duplex, r: FileReceiver, slices: boolean): void {
  receiveFiles(slices ? server : new BinaryProtocolHandler(server, { maxFrameBytes: 1 << 22 }), r)
}

describe.each([
  ['joined (a handler passed in)', false],
  ['as slices (the default: written as pieces, never joined)', true],
])('fast path: chunks that arrive in several reads, %s', (_name, slices) => {
  it('a DATA frame cut at every point of its header, prefix and CRC, and around the copy threshold, is written and hashed whole', async () => {
    const box = sandbox()
    const r = receiver(box.uploads)
    const { client, server, deliver } = pair()
    serve(server, r, slices)
    const c = new FastClient(client)
    const piece = 6000
    // Frame bytes: 8 header, 28 prefix (id, offset, CRC-32), then the data.
    const cuts = [...Array.from({ length: 40 }, (_, k) => k + 1), 4000, 4130, 4140, 6030, 6035]
    const content = randomBytes(piece * cuts.length * 2)
    c.json(Op.START, { ref: 1, name: 'split.bin', size: content.length })
    const id = (await c.next(Op.READY)).json.transferId as string
    let at = 0
    for (const cut of cuts) {
      // Two reads, then three (a short middle piece: the copied path beside the views).
      for (const middle of [0, 10]) {
        const data = content.subarray(at, at + piece)
        const wire = encodeFrame(
          FILE_TRANSFER,
          dataFrame(id, at, data, crc32(data)),
          Op.DATA | CHUNK_CRC,
        )
        deliver(wire.subarray(0, cut))
        if (middle > 0) deliver(wire.subarray(cut, cut + middle))
        deliver(wire.subarray(cut + middle))
        at += piece
        const ack = await c.next(Op.ACK)
        expect(ack.op).toBe(Op.ACK)
        expect(offsetOf(ack.body)).toBe(at)
      }
    }
    c.json(Op.END, { transferId: id, sha256: sha256(content) })
    expect((await c.next(Op.COMPLETE)).json).toMatchObject({ size: content.length })
    expect(readFileSync(join(box.uploads, 'split.bin')).equals(content)).toBe(true)
  })

  it('a bad CRC-32 over a chunk in pieces is refused and the offset not advanced', async () => {
    const box = sandbox()
    const r = receiver(box.uploads)
    const { client, server, deliver } = pair()
    serve(server, r, slices)
    const c = new FastClient(client)
    const content = randomBytes(20_000)
    c.json(Op.START, { ref: 1, name: 'crc.bin', size: content.length })
    const id = (await c.next(Op.READY)).json.transferId as string
    const bad = Buffer.from(content)
    bad[15_000] = (bad[15_000] as number) ^ 1
    const frame = (data: Buffer) =>
      encodeFrame(FILE_TRANSFER, dataFrame(id, 0, data, crc32(content)), Op.DATA | CHUNK_CRC)
    const wrong = frame(bad)
    deliver(wrong.subarray(0, 9000))
    deliver(wrong.subarray(9000))
    expect((await c.next(Op.ACK)).json).toMatchObject({ code: 'checksum_mismatch', expected: 0 })
    const right = frame(content)
    deliver(right.subarray(0, 30))
    deliver(right.subarray(30))
    expect(offsetOf((await c.next(Op.ACK)).body)).toBe(content.length)
    c.json(Op.END, { transferId: id, sha256: sha256(content) })
    expect((await c.next(Op.COMPLETE)).json).toMatchObject({ size: content.length })
  })
})

describe('splitPrefix', () => {
  it('at every cut of a payload into two and three pieces: the prefix and the rest are the input', () => {
    const payload = randomBytes(64)
    for (let a = 0; a <= payload.length; a++) {
      for (let b = a; b <= payload.length; b += 7) {
        const pieces = [payload.subarray(0, a), payload.subarray(a, b), payload.subarray(b)]
        const [head, rest] = splitPrefix(pieces, 28)
        expect(head?.equals(payload.subarray(0, 28))).toBe(true)
        expect(Buffer.concat(rest).equals(payload.subarray(28))).toBe(true)
        expect(rest.every((p) => p.length > 0)).toBe(true)
      }
    }
    expect(splitPrefix([payload.subarray(0, 10), payload.subarray(10, 20)], 28)[0]).toBeUndefined()
  })
})
