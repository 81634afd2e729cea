// The chunk writer on its own, with a stand-in partial file and hash: order, durability,
// background flushes and I/O failures. The receiver around it is tested on real files.
import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { crcOf, FLUSH_EVERY_BYTES, ioFailure, writeChunk } from '../src/chunk-writer.ts'
import type { TransferError } from '../src/errors.ts'
import type { StreamHash } from '../src/hasher.ts'
import { settings } from '../src/receiver-options.ts'
import type { PartialFile } from '../src/storage.ts'
import { newTransfer } from '../src/transfer.ts'

function transfer(file: Partial<PartialFile> = {}) {
  const writes: [string, number][] = []
  const partial = {
    size: 0,
    write: async (data: Uint8Array, at: number) => {
      writes.push([Buffer.from(data).toString(), at])
    },
    sync: async () => {},
    close: async () => {},
    ...file,
  } as unknown as PartialFile
  const hashed: string[] = []
  const hash = {
    update: async (data: Uint8Array | readonly Uint8Array[]) => {
      hashed.push(ArrayBuffer.isView(data) ? Buffer.from(data).toString() : data.join('|'))
    },
    digest: async () => '',
    discard: () => {},
  } as unknown as StreamHash
  const meta = { name: 'f', size: 1 << 40, createdAt: 0 }
  const t = newTransfer({} as never, 'id', meta, partial, hash, async () => {}, 0)
  return { t, writes, hashed }
}

describe('writeChunk', () => {
  it('writes and hashes each chunk at its offset, and resolves to the bytes durable', async () => {
    const { t, writes, hashed } = transfer()
    const first = writeChunk(t, 0, Buffer.from('abc'), 3, () => {})
    t.tail = first.then(() => {})
    await expect(first).resolves.toBe(3)
    await expect(writeChunk(t, 3, [Buffer.from('d'), Buffer.from('e')], 2, () => {})).resolves.toBe(
      5,
    )
    expect(writes).toEqual([
      ['abc', 0],
      ['d', 3],
      ['e', 4],
    ])
    expect(hashed).toEqual(['abc', 'd|e'])
    expect(t.durable).toBe(5)
  })

  it('starts a background flush every FLUSH_EVERY_BYTES, and keeps what it failed with', async () => {
    let syncs = 0
    const { t } = transfer({
      sync: async () => {
        syncs++
        throw Object.assign(new Error('EIO'), { code: 'EIO' })
      },
    })
    await writeChunk(t, 0, Buffer.alloc(1), FLUSH_EVERY_BYTES, () => {})
    await t.flushing
    expect(syncs).toBe(1)
    expect((t.flushError as NodeJS.ErrnoException).code).toBe('EIO')
  })

  it('a failed write fails the transfer with io_error and the errno code', async () => {
    const failed: TransferError[] = []
    const { t } = transfer({
      write: async () => {
        throw Object.assign(new Error('disk full'), { code: 'ENOSPC' })
      },
    })
    const written = writeChunk(t, 0, Buffer.from('x'), 1, (error) => failed.push(error))
    await expect(written).rejects.toMatchObject({ wireCode: 'io_error' })
    expect(failed[0]?.message).toContain('ENOSPC')
  })
})

it('crcOf is the CRC-32 of the bytes, in one buffer or in pieces', () => {
  const whole = Buffer.from('hello, world')
  expect(crcOf(whole)).toBe(crc32(whole))
  expect(crcOf([whole.subarray(0, 5), whole.subarray(5)])).toBe(crc32(whole))
})

it('ioFailure names the errno code, and the transfer', () => {
  const error = ioFailure('t1', Object.assign(new Error('x'), { code: 'EACCES' }))
  expect(error).toMatchObject({ wireCode: 'io_error', transferId: 't1' })
  expect(error.message).toContain('EACCES')
})

it('settings fill in the defaults and refuse unknown or bad options', () => {
  expect(settings({})).toMatchObject({ maxChunkBytes: 4 * 1024 * 1024, overwrite: false })
  expect(settings({ minFreeBytes: 0 }).minFreeBytes).toBe(0)
  expect(() => settings({ nope: 1 } as never)).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  )
  expect(() => settings({ maxChunkBytes: -1 })).toThrow(RangeError)
})
