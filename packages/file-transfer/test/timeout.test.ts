import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { closeAll } from '@verb-tcp/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import {
  LocalDirectoryStorage,
  Op,
  type PartialFile,
  type PartialMeta,
  sendFile,
  TCPFileTransferServer,
} from '../src/index.ts'
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
  sourceFile,
} from './helpers.ts'

afterEach(async () => {
  await closeAll()
  await cleanup()
})

/** A store whose writes wait until `open()` is called: a disk slower than the idle timeout. */
class SlowDisk extends LocalDirectoryStorage {
  #waiting: (() => void)[] = []
  #open = false
  writes = 0
  release(): void {
    this.#open = true
    for (const go of this.#waiting.splice(0)) go()
  }
  override async create(id: string, meta: PartialMeta): Promise<PartialFile> {
    const file = await super.create(id, meta)
    const write = file.write.bind(file)
    const writev = file.writev?.bind(file)
    const held = async () => {
      this.writes++
      if (!this.#open) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    }
    file.write = async (data, position) => {
      await held()
      return write(data, position)
    }
    if (writev) {
      file.writev = async (pieces, position) => {
        await held()
        return writev(pieces, position)
      }
    }
    return file
  }
}

describe('idle and slow senders', () => {
  it('fast path: a sender that stops is released with timeout; the partial is kept and resumes byte-identical', async () => {
    const box = sandbox()
    const r = receiver(box.uploads, { idleTimeoutMs: 100 })
    const timeouts: string[] = []
    r.on('timeout', (id, error) => timeouts.push(`${id} ${error.code}`))
    const port = await fastServer(r)
    const { path, data } = sourceFile(box.root, 200_000)
    const c = new FastClient(await client(port))
    c.json(Op.START, { ref: 1, name: 'idle.bin', size: data.length })
    const id = (await c.next(Op.READY)).json.transferId as string
    c.send(Op.DATA, dataFrame(id, 0, data.subarray(0, 50_000)))
    expect((await c.next(Op.ACK)).op).toBe(Op.ACK)

    // Nothing more is sent: the receiver gives up on its own.
    const error = await c.next(Op.ERROR)
    expect(error.json).toMatchObject({ code: 'timeout', transferId: id, expected: 50_000 })
    expect(timeouts).toEqual([`${id} ERR_FT_TIMEOUT`])
    expect(partials(box.uploads).sort()).toEqual([id, `${id}.json`])
    expect(existsSync(join(box.uploads, 'idle.bin'))).toBe(false)

    // Released: a late chunk is not_found, and the connection still serves new transfers.
    c.send(Op.DATA, dataFrame(id, 50_000, data.subarray(50_000, 60_000)))
    expect((await c.next(Op.ERROR)).json).toMatchObject({ code: 'not_found' })
    c.json(Op.START, { ref: 2, name: 'other.bin', size: 1 })
    expect((await c.next(Op.READY)).json).toMatchObject({ ref: 2, offset: 0 })

    // The lock was freed: another connection resumes at the offset.
    let offset = -1
    const done = await sendFile(await client(port), path, {
      transferId: id,
      name: 'idle.bin',
      busyRetries: 0,
      onStart: (s) => {
        offset = s.offset
      },
    })
    expect(offset).toBe(50_000)
    expect(done).toMatchObject({ name: 'idle.bin', sha256: sha256(data) })
    expect(readFileSync(join(box.uploads, 'idle.bin')).equals(data)).toBe(true)
  })

  it('fast path: a sender trickling a chunk that never completes is released too', async () => {
    const box = sandbox()
    const port = await fastServer(receiver(box.uploads, { idleTimeoutMs: 150 }))
    const c = new FastClient(await client(port))
    c.json(Op.START, { ref: 1, name: 'slow.bin', size: 100_000 })
    const id = (await c.next(Op.READY)).json.transferId as string
    const frame = Buffer.concat([
      Buffer.from([0, 0x20, 0, 0, 0, 0, 0, Op.DATA]),
      dataFrame(id, 0, Buffer.alloc(100_000, 1)),
    ])
    frame.writeUInt32BE(frame.length - 8, 2)
    // A few bytes at a time, each well inside the timeout; the chunk never completes.
    let at = 0
    const trickle = setInterval(() => {
      if (at >= 1000) return
      c.socket.write(frame.subarray(at, at + 10))
      at += 10
    }, 20)
    onCleanup(() => clearInterval(trickle))
    expect((await c.next(Op.ERROR)).json).toMatchObject({ code: 'timeout', transferId: id })
    clearInterval(trickle)
    expect(partials(box.uploads).sort()).toEqual([id, `${id}.json`])
  })

  it('docs path: the client gets the docs-style error with code timeout and resumes with its uploadId', async () => {
    const box = sandbox()
    const s = new TCPFileTransferServer(box.uploads, { idleTimeoutMs: 100 })
    onCleanup(() => s.close())
    const port = await docsServer(s)
    const content = Buffer.from('abcdefghij'.repeat(1000))
    const c = new DocsClient(await client(port))
    c.send({ type: 'file_start', transferId: 7, filename: 'd.txt', fileSize: content.length })
    const ack = await c.type('file_start_ack')
    c.send({
      type: 'file_chunk',
      transferId: 7,
      chunkIndex: 0,
      data: content.subarray(0, 4000).toString('base64'),
    })
    expect(await c.type('file_chunk_ack')).toMatchObject({ receivedBytes: 4000 })
    expect(await c.type('error')).toMatchObject({
      type: 'error',
      code: 'timeout',
      transferId: 7,
      expected: 4000,
    })
    // The same connection resumes with the uploadId it was given.
    c.send({ type: 'file_start', transferId: 8, uploadId: ack.uploadId })
    expect(await c.type('file_start_ack')).toMatchObject({ offset: 4000, resumed: true })
    c.send({
      type: 'file_chunk',
      transferId: 8,
      offset: 4000,
      data: content.subarray(4000).toString('base64'),
    })
    await c.type('file_chunk_ack')
    c.send({ type: 'file_end', transferId: 8, sha256: sha256(content) })
    expect(await c.type('file_complete')).toMatchObject({ receivedBytes: content.length })
    expect(readFileSync(join(box.uploads, 'd.txt')).equals(content)).toBe(true)
  })

  it('a disk slower than the timeout is not an idle sender: nothing is released while writes are pending', async () => {
    const box = sandbox()
    const storage = new SlowDisk(box.uploads)
    const r = receiver(box.uploads, { storage, idleTimeoutMs: 50 })
    const timeouts: string[] = []
    r.on('timeout', (id) => timeouts.push(id))
    const port = await fastServer(r)
    const { path, data } = sourceFile(box.root, 64 * 1024)
    let started = false
    const sending = sendFile(await client(port), path, {
      name: 'slow-disk.bin',
      onStart: () => {
        started = true
      },
    })
    await expect.poll(() => started && storage.writes > 0).toBe(true)
    // Several idle periods pass with the write held by the disk.
    await new Promise((resolve) => setTimeout(resolve, 300))
    storage.release()
    expect((await sending).sha256).toBe(sha256(data))
    expect(timeouts).toEqual([])
  })

  it('0 turns the timeout off; bad values are refused at configuration', async () => {
    const box = sandbox()
    expect(receiver(box.uploads, { idleTimeoutMs: 0 }).options.idleTimeoutMs).toBe(0)
    expect(() => receiver(box.uploads, { idleTimeoutMs: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    )
    expect(() => receiver(box.uploads, { idleTimeoutMs: '5' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    )
  })
})
