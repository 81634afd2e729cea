import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { closeAll } from '@verb-tcp/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { CHUNK_CRC, FileReceiver, Op, TCPFileTransferServer } from '../src/index.ts'
import {
  cleanup,
  client,
  DocsClient,
  dataFrame,
  docsServer,
  FastClient,
  fastServer,
  onCleanup,
  partials,
  receiver,
  sandbox,
  sha256,
} from './helpers.ts'

afterEach(async () => {
  await closeAll()
  await cleanup()
})

function docs(uploads: string, options = {}) {
  const s = new TCPFileTransferServer(uploads, options)
  onCleanup(() => s.close())
  return s
}

async function startFast(c: FastClient, name: string, size: number, extra = {}) {
  c.json(Op.START, { ref: name, name, size, ...extra })
  const reply = await c.next(Op.READY)
  expect(reply.op).toBe(Op.READY)
  return reply.json.transferId as string
}

describe('offsets (fast path)', () => {
  it('a gap, a duplicate and a rewind are offset_mismatch with the expected offset; the file is unchanged', async () => {
    const box = sandbox()
    const c = new FastClient(await client(await fastServer(receiver(box.uploads))))
    const content = Buffer.from('0123456789abcdef')
    const id = await startFast(c, 'o.bin', 16)
    c.send(Op.DATA, dataFrame(id, 0, content.subarray(0, 8)))
    expect((await c.next(Op.ACK)).body.readUInt32BE(20)).toBe(8)
    for (const [offset, part] of [
      [12, content.subarray(12)], // gap
      [0, content.subarray(0, 8)], // duplicate
      [4, Buffer.from('XXXX')], // rewind
    ] as const) {
      c.send(Op.DATA, dataFrame(id, offset, part))
      expect((await c.next(Op.ACK)).json).toMatchObject({
        code: 'offset_mismatch',
        expected: 8,
        transferId: id,
      })
    }
    c.send(Op.DATA, dataFrame(id, 8, content.subarray(8)))
    expect((await c.next(Op.ACK)).body.readUInt32BE(20)).toBe(16)
    c.json(Op.END, { transferId: id, sha256: sha256(content) })
    expect((await c.next(Op.COMPLETE)).json).toMatchObject({ name: 'o.bin', size: 16 })
    expect(readFileSync(join(box.uploads, 'o.bin')).equals(content)).toBe(true)
  })

  it('a chunk with a bad CRC-32 is dropped and the offset is not advanced', async () => {
    const box = sandbox()
    const c = new FastClient(await client(await fastServer(receiver(box.uploads))))
    const content = Buffer.from('good bytes')
    const id = await startFast(c, 'crc.bin', content.length)
    c.send(Op.DATA | CHUNK_CRC, dataFrame(id, 0, Buffer.from('evil bytes'), crc32(content)))
    expect((await c.next(Op.ACK)).json).toMatchObject({ code: 'checksum_mismatch', expected: 0 })
    c.send(Op.DATA | CHUNK_CRC, dataFrame(id, 0, content, crc32(content)))
    expect((await c.next(Op.ACK)).body.readUInt32BE(20)).toBe(content.length)
    c.json(Op.END, { transferId: id })
    expect((await c.next(Op.COMPLETE)).json.sha256).toBe(sha256(content))
  })
})

describe('unknown and finished transfers', () => {
  it('a chunk for an unknown or cancelled transfer is not_found; cancel removes the partial', async () => {
    const box = sandbox()
    const c = new FastClient(await client(await fastServer(receiver(box.uploads))))
    c.send(Op.DATA, dataFrame('00'.repeat(16), 0, Buffer.from('x')))
    expect((await c.next(Op.ACK)).json).toMatchObject({ code: 'not_found' })
    const id = await startFast(c, 'c.bin', 10)
    c.send(Op.DATA, dataFrame(id, 0, Buffer.from('12345')))
    await c.next(Op.ACK)
    expect(partials(box.uploads)).toHaveLength(2)
    c.json(Op.CANCEL, { transferId: id })
    expect((await c.next(Op.CANCELLED)).json).toEqual({ transferId: id })
    expect(partials(box.uploads)).toEqual([])
    c.send(Op.DATA, dataFrame(id, 5, Buffer.from('67890')))
    expect((await c.next(Op.ACK)).json).toMatchObject({ code: 'not_found' })
    c.json(Op.START, { ref: 'r', transferId: id })
    expect((await c.next(Op.READY)).json).toMatchObject({ code: 'not_found' })
  })

  it('file_end before every byte is size_mismatch (the transfer goes on); a second file_end is not_found', async () => {
    const box = sandbox()
    const c = new DocsClient(await client(await docsServer(docs(box.uploads))))
    c.send({ type: 'file_start', transferId: 'e', filename: 'e.txt', fileSize: 6, chunkSize: 3 })
    await c.type('file_start_ack')
    c.send({
      type: 'file_chunk',
      transferId: 'e',
      chunkIndex: 0,
      data: Buffer.from('abc').toString('base64'),
    })
    c.send({ type: 'file_end', transferId: 'e' })
    await c.type('file_chunk_ack')
    expect(await c.type('file_complete')).toMatchObject({
      type: 'error',
      code: 'size_mismatch',
      expected: 6,
    })
    c.send({
      type: 'file_chunk',
      transferId: 'e',
      chunkIndex: 1,
      data: Buffer.from('def').toString('base64'),
    })
    expect(await c.type('file_chunk_ack')).toMatchObject({ receivedBytes: 6 })
    c.send({ type: 'file_end', transferId: 'e' })
    expect(await c.type('file_complete')).toMatchObject({ type: 'file_complete', receivedBytes: 6 })
    c.send({ type: 'file_end', transferId: 'e' })
    expect(await c.type('file_complete')).toMatchObject({ type: 'error', code: 'not_found' })
    expect(readFileSync(join(box.uploads, 'e.txt'), 'utf8')).toBe('abcdef')
  })
})

describe('sizes', () => {
  it('a declared size over the max is too_large at start', async () => {
    const box = sandbox()
    const c = new FastClient(
      await client(await fastServer(receiver(box.uploads, { maxFileBytes: 100 }))),
    )
    c.json(Op.START, { ref: 1, name: 'big', size: 101 })
    expect((await c.next(Op.READY)).json).toMatchObject({ code: 'too_large' })
  })

  it('bytes past the declared size are too_large and the partial is removed', async () => {
    const box = sandbox()
    const c = new FastClient(await client(await fastServer(receiver(box.uploads))))
    const id = await startFast(c, 'past', 4)
    c.send(Op.DATA, dataFrame(id, 0, Buffer.from('12345')))
    expect((await c.next(Op.ACK)).json).toMatchObject({ code: 'too_large' })
    await expect.poll(() => partials(box.uploads)).toEqual([])
    c.send(Op.DATA, dataFrame(id, 0, Buffer.from('1234')))
    expect((await c.next(Op.ACK)).json).toMatchObject({ code: 'not_found' })
  })

  it('a chunk over the chunk limit is too_large and the partial is removed', async () => {
    const box = sandbox()
    const c = new FastClient(
      await client(await fastServer(receiver(box.uploads, { maxChunkBytes: 8 }))),
    )
    const id = await startFast(c, 'chunky', 100)
    c.send(Op.DATA, dataFrame(id, 0, Buffer.alloc(9)))
    expect((await c.next(Op.ACK)).json).toMatchObject({ code: 'too_large' })
    await expect.poll(() => partials(box.uploads)).toEqual([])
  })
})

describe('malformed requests (the connection survives)', () => {
  it('docs path: bad base64, missing fields, wrong types, unknown type', async () => {
    const box = sandbox()
    const c = new DocsClient(await client(await docsServer(docs(box.uploads))))
    c.send({ type: 'file_start', transferId: 'm', filename: 'm.txt', fileSize: 3, chunkSize: 3 })
    await c.type('file_start_ack')
    const bad = [
      { type: 'file_chunk', transferId: 'm', chunkIndex: 0, data: 'not base64!' },
      { type: 'file_chunk', transferId: 'm', chunkIndex: 0, data: 'QUJD=' },
      { type: 'file_chunk', transferId: 'm', chunkIndex: 0 },
      { type: 'file_chunk', transferId: 'm', chunkIndex: -1, data: 'QUJD' },
      { type: 'file_chunk', transferId: 'm', chunkIndex: 0, data: 42 },
      { type: 'file_chunk', chunkIndex: 0, data: 'QUJD' },
      { type: 'file_start', transferId: 'n', filename: 'n.txt' },
      { type: 'file_start', transferId: 'n', filename: 'n.txt', fileSize: -1 },
      { type: 'file_start', transferId: 'n', filename: 'n.txt', fileSize: 1.5 },
      { type: 'file_start', transferId: { x: 1 }, filename: 'n.txt', fileSize: 1 },
      { type: 'file_start', transferId: 'n', filename: 'n.txt', fileSize: 1, sha256: 'zz' },
      { type: 'file_nonsense', transferId: 'm' },
    ]
    for (const message of bad) {
      c.send(message)
      expect(await c.next(), JSON.stringify(message)).toMatchObject({
        type: 'error',
        code: 'bad_request',
      })
    }
    c.socket.write('5\n{nope') // a frame of bad JSON
    expect(await c.next()).toMatchObject({ type: 'error', code: 'bad_request' })
    c.send({ type: 'file_chunk', transferId: 'm', chunkIndex: 0, data: 'QUJD' })
    expect(await c.type('file_chunk_ack')).toMatchObject({
      type: 'file_chunk_ack',
      receivedBytes: 3,
    })
  })

  it('fast path: a short DATA frame, a control payload that is not JSON, an unknown op', async () => {
    const box = sandbox()
    const c = new FastClient(await client(await fastServer(receiver(box.uploads))))
    c.send(Op.DATA, Buffer.alloc(10))
    expect((await c.next()).json).toMatchObject({ code: 'bad_request' })
    c.send(Op.START, Buffer.from('{nope'))
    expect((await c.next()).json).toMatchObject({ code: 'bad_request' })
    c.json(0x7f, {})
    expect((await c.next()).json).toMatchObject({ code: 'bad_request' })
    c.json(Op.START, { ref: 1, name: 'ok', size: 1, transferId: '../x' })
    expect((await c.next()).json).toMatchObject({ code: 'bad_request' })
    await startFast(c, 'ok', 1)
  })
})

describe('integrity', () => {
  it('a SHA-256 mismatch publishes nothing and removes the partial', async () => {
    const box = sandbox()
    const c = new FastClient(await client(await fastServer(receiver(box.uploads))))
    const id = await startFast(c, 'sum.bin', 4)
    c.send(Op.DATA, dataFrame(id, 0, Buffer.from('abcd')))
    await c.next(Op.ACK)
    c.json(Op.END, { transferId: id, sha256: sha256(Buffer.from('abce')) })
    expect((await c.next(Op.COMPLETE)).json).toMatchObject({
      code: 'checksum_mismatch',
      transferId: id,
    })
    expect(existsSync(join(box.uploads, 'sum.bin'))).toBe(false)
    expect(partials(box.uploads)).toEqual([])
  })

  it('requireSha256 refuses to publish without a digest (recoverably)', async () => {
    const box = sandbox()
    const c = new DocsClient(
      await client(await docsServer(docs(box.uploads, { requireSha256: true }))),
    )
    c.send({ type: 'file_start', transferId: 1, filename: 'r.txt', fileSize: 2, chunkSize: 2 })
    await c.type('file_start_ack')
    c.send({ type: 'file_chunk', transferId: 1, chunkIndex: 0, data: 'aGk=' })
    c.send({ type: 'file_end', transferId: 1 })
    expect(await c.type('file_complete')).toMatchObject({ type: 'error', code: 'bad_request' })
    c.send({ type: 'file_end', transferId: 1, sha256: sha256(Buffer.from('hi')) })
    expect(await c.type('file_complete')).toMatchObject({ type: 'file_complete' })
  })
})

describe('existing names and races', () => {
  it('an existing name is exists, never overwritten', async () => {
    const box = sandbox()
    writeFileSync(join(box.uploads, 'taken'), 'original')
    const c = new FastClient(await client(await fastServer(receiver(box.uploads))))
    c.json(Op.START, { ref: 1, name: 'taken', size: 1 })
    expect((await c.next()).json).toMatchObject({ code: 'exists' })
    expect(readFileSync(join(box.uploads, 'taken'), 'utf8')).toBe('original')
  })

  it('two clients racing for one name: exactly one wins, the other gets exists', async () => {
    const box = sandbox()
    const port = await fastServer(receiver(box.uploads))
    const a = new FastClient(await client(port))
    const b = new FastClient(await client(port))
    a.json(Op.START, { ref: 1, name: 'same', size: 1 })
    b.json(Op.START, { ref: 1, name: 'same', size: 1 })
    const replies = [await a.next(), await b.next()]
    expect(replies.map((r) => r.op).sort()).toEqual([Op.READY, Op.ERROR])
    expect(replies.find((r) => r.op === Op.ERROR)?.json).toMatchObject({ code: 'exists' })
  })

  it('two processes (two receivers on one directory) racing: the publish link decides', async () => {
    const box = sandbox()
    const a = new FastClient(await client(await fastServer(receiver(box.uploads))))
    const b = new FastClient(await client(await fastServer(receiver(box.uploads))))
    const ids = [await startFast(a, 'same', 1), await startFast(b, 'same', 1)]
    a.send(Op.DATA, dataFrame(ids[0] as string, 0, Buffer.from('A')))
    b.send(Op.DATA, dataFrame(ids[1] as string, 0, Buffer.from('B')))
    await a.next(Op.ACK)
    await b.next(Op.ACK)
    a.json(Op.END, { transferId: ids[0] })
    b.json(Op.END, { transferId: ids[1] })
    const replies = [await a.next(Op.COMPLETE), await b.next(Op.COMPLETE)]
    expect(replies.map((r) => r.op).sort()).toEqual([Op.COMPLETE, Op.ERROR])
    const lost = replies.find((r) => r.op === Op.ERROR)
    expect(lost?.json).toMatchObject({ code: 'exists' })
    const winner = replies[0]?.op === Op.COMPLETE ? 'A' : 'B'
    expect(readFileSync(join(box.uploads, 'same'), 'utf8')).toBe(winner)
    expect(partials(box.uploads)).toEqual([])
  })
})

describe('quotas and space', () => {
  it('concurrent transfers and bytes per connection are quota; other connections are unaffected', async () => {
    const box = sandbox()
    const port = await fastServer(
      receiver(box.uploads, { maxConcurrentTransfers: 2, maxConnectionBytes: 100 }),
    )
    const c = new FastClient(await client(port))
    await startFast(c, 'q1', 10)
    await startFast(c, 'q2', 10)
    c.json(Op.START, { ref: 3, name: 'q3', size: 10 })
    expect((await c.next()).json).toMatchObject({ code: 'quota', ref: 3 })
    const d = new FastClient(await client(port))
    c.json(Op.START, { ref: 4, name: 'q4', size: 10 })
    expect((await c.next()).json).toMatchObject({ code: 'quota' })
    d.json(Op.START, { ref: 5, name: 'd1', size: 101 })
    expect((await d.next()).json).toMatchObject({ code: 'quota', ref: 5 })
    await startFast(d, 'd2', 100)
  })

  it('below the free-space floor is quota, up front', async () => {
    const box = sandbox()
    const c = new FastClient(
      await client(
        await fastServer(receiver(box.uploads, { minFreeBytes: Number.MAX_SAFE_INTEGER })),
      ),
    )
    c.json(Op.START, { ref: 1, name: 'f', size: 1 })
    expect((await c.next()).json).toMatchObject({ code: 'quota' })
    expect(partials(box.uploads)).toEqual([])
  })
})

describe('options are checked at configuration', () => {
  it.each([
    [{ progressEvery: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ progressEvery: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ progressEvery: 1.5 }, 'ERR_OUT_OF_RANGE'],
    [{ progressEvery: '100' }, 'ERR_INVALID_ARG_TYPE'],
    [{ maxFileBytes: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ partialTtlMs: 0 }, 'ERR_OUT_OF_RANGE'],
    [{ overwrite: 'yes' }, 'ERR_INVALID_ARG_TYPE'],
    [{ maxFileByte: 1 }, 'ERR_INVALID_ARG_VALUE'],
    [{ storage: 42 }, 'ERR_INVALID_ARG_TYPE'],
  ])('%j → %s', (options, code) => {
    const box = sandbox()
    expect(() => new TCPFileTransferServer(box.uploads, options as never)).toThrow(
      expect.objectContaining({ code }),
    )
  })

  it('minFreeBytes may be 0 and maxConnectionBytes Infinity', () => {
    const box = sandbox()
    const r = new FileReceiver(box.uploads, {
      minFreeBytes: 0,
      maxConnectionBytes: Number.POSITIVE_INFINITY,
    })
    onCleanup(() => r.close())
    expect(r.options.minFreeBytes).toBe(0)
  })
})
