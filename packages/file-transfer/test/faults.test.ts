import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { closeAll } from '@verb-tcp/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import {
  FileReceiver,
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

describe('disconnect and resume', () => {
  it('killed mid-chunk: the partial is kept, never published, and a reconnect resumes byte-identical', async () => {
    const box = sandbox()
    const port = await fastServer(receiver(box.uploads))
    const { path, data } = sourceFile(box.root, 100_000)
    const first = new FastClient(await client(port))
    first.json(Op.START, { ref: 1, name: 'resumed.bin', size: data.length })
    const id = (await first.next(Op.READY)).json.transferId as string
    first.send(Op.DATA, dataFrame(id, 0, data.subarray(0, 30_000)))
    await first.next(Op.ACK)
    // Half of the next DATA frame, then the connection dies.
    const frame = Buffer.concat([
      Buffer.from([0, 0x20, 0, 0, 0, 0, 0, Op.DATA]),
      dataFrame(id, 30_000, data.subarray(30_000, 60_000)),
    ])
    frame.writeUInt32BE(frame.length - 8, 2)
    first.socket.write(frame.subarray(0, 20_000))
    first.socket.destroy()
    expect(existsSync(join(box.uploads, 'resumed.bin'))).toBe(false)

    let offset = -1
    const done = await sendFile(await client(port), path, {
      transferId: id,
      name: 'resumed.bin',
      chunkBytes: 16_384,
      onStart: (s) => {
        offset = s.offset
      },
    })
    expect(offset).toBe(30_000)
    expect(done.sha256).toBe(sha256(data))
    expect(readFileSync(join(box.uploads, 'resumed.bin')).equals(data)).toBe(true)
    expect(partials(box.uploads)).toEqual([])
  })

  it('an aborted sendFile keeps the partial; sendFile with its transferId finishes it', async () => {
    const box = sandbox()
    const port = await fastServer(receiver(box.uploads))
    const { path, data } = sourceFile(box.root, 2_000_000)
    const controller = new AbortController()
    let id = ''
    const first = await client(port)
    const aborted = sendFile(first, path, {
      chunkBytes: 65_536,
      windowBytes: 131_072,
      progressIntervalMs: 0,
      signal: controller.signal,
      onStart: (s) => {
        id = s.transferId
      },
      onProgress: (p) => {
        if (p.bytes >= 500_000) controller.abort()
      },
    })
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' })
    expect(existsSync(join(box.uploads, 'source.bin'))).toBe(false)
    // The aborted connection still owns the transfer until it closes (busy is retried meanwhile).
    first.destroy()
    const done = await sendFile(await client(port), path, { transferId: id })
    expect(done).toMatchObject({ name: 'source.bin', size: data.length, sha256: sha256(data) })
    expect(readFileSync(join(box.uploads, 'source.bin')).equals(data)).toBe(true)
  })

  it('resume on the docs path: file_start with the uploadId gets the offset', async () => {
    const box = sandbox()
    const s = new TCPFileTransferServer(box.uploads)
    onCleanup(() => s.close())
    const port = await docsServer(s)
    const a = new DocsClient(await client(port))
    a.send({ type: 'file_start', transferId: 'x', filename: 'd.txt', fileSize: 6, chunkSize: 3 })
    const { uploadId } = await a.type('file_start_ack')
    a.send({
      type: 'file_chunk',
      transferId: 'x',
      chunkIndex: 0,
      data: Buffer.from('abc').toString('base64'),
    })
    await a.type('file_chunk_ack')
    a.socket.destroy()
    const b = new DocsClient(await client(port))
    b.send({ type: 'file_start', transferId: 'y', uploadId })
    expect(await b.type('file_start_ack')).toMatchObject({
      type: 'file_start_ack',
      offset: 3,
      resumed: true,
    })
    b.send({
      type: 'file_chunk',
      transferId: 'y',
      offset: 3,
      data: Buffer.from('def').toString('base64'),
    })
    b.send({ type: 'file_end', transferId: 'y', sha256: sha256(Buffer.from('abcdef')) })
    expect(await b.type('file_complete')).toMatchObject({
      type: 'file_complete',
      filename: 'd.txt',
    })
    expect(readFileSync(join(box.uploads, 'd.txt'), 'utf8')).toBe('abcdef')
  })
})

describe('one writer per transfer', () => {
  it('a second connection resuming a transfer that is being written is refused with busy, until the first closes', async () => {
    const box = sandbox()
    const port = await fastServer(receiver(box.uploads))
    const a = new FastClient(await client(port))
    a.json(Op.START, { ref: 1, name: 'one.bin', size: 10 })
    const id = (await a.next(Op.READY)).json.transferId as string
    const b = new FastClient(await client(port))
    b.json(Op.START, { ref: 2, transferId: id })
    expect((await b.next()).json).toMatchObject({ code: 'busy', ref: 2 })
    // Chunks for a transfer another connection owns are refused too.
    b.send(Op.DATA, dataFrame(id, 0, Buffer.from('x')))
    expect((await b.next()).json).toMatchObject({ code: 'busy' })
    a.socket.destroy()
    // Until the server has seen the close, the answer is still busy: retry, bounded.
    let reply = { op: 0, json: {} as Record<string, unknown> }
    for (let ref = 3; ref < 100 && reply.op !== Op.READY; ref++) {
      b.json(Op.START, { ref, transferId: id })
      reply = await b.next()
      if (reply.op !== Op.READY) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(reply.json).toMatchObject({ transferId: id, offset: 0 })
  })

  it('holds across processes: a live lock held by another process is busy; once it dies, the stale lock is recovered', async () => {
    const box = sandbox()
    const r = receiver(box.uploads)
    const port = await fastServer(r)
    const a = new FastClient(await client(port))
    a.json(Op.START, { ref: 1, name: 'shared.bin', size: 4 })
    const id = (await a.next(Op.READY)).json.transferId as string
    a.socket.destroy()
    const lock = join(box.uploads, '.partial', `${id}.lock`)
    await expect.poll(() => existsSync(lock)).toBe(false)
    // Another process (another cluster worker, say) takes the lock and stays alive.
    const script = `require('fs').writeFileSync(${JSON.stringify(lock)}, JSON.stringify({ pid: process.pid, host: ${JSON.stringify(hostname())}, token: 'other' }), { flag: 'wx' }); process.stdout.write('locked'); setInterval(() => {}, 1000)`
    const child: ChildProcess = spawn(process.execPath, ['-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    onCleanup(() => void child.kill('SIGKILL'))
    await once(child.stdout as NodeJS.ReadableStream, 'data')
    const b = new FastClient(await client(port))
    b.json(Op.START, { ref: 2, transferId: id })
    expect((await b.next()).json).toMatchObject({ code: 'busy' })
    child.kill('SIGKILL')
    await once(child, 'exit')
    b.json(Op.START, { ref: 3, transferId: id })
    expect((await b.next(Op.READY)).json).toMatchObject({ ref: 3, transferId: id, offset: 0 })
  })
})

/** A local store whose writes fail with ENOSPC once `budget` bytes have been written. */
class FullDisk extends LocalDirectoryStorage {
  budget: number
  constructor(directory: string, budget: number) {
    super(directory)
    this.budget = budget
  }
  override async create(id: string, meta: PartialMeta): Promise<PartialFile> {
    const file = await super.create(id, meta)
    const write = file.write.bind(file)
    const writev = file.writev?.bind(file)
    const spend = (bytes: number) => {
      if (this.budget < bytes) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
      }
      this.budget -= bytes
    }
    file.write = async (data, position) => {
      spend(data.byteLength)
      return write(data, position)
    }
    if (writev) {
      file.writev = async (pieces, position) => {
        spend(pieces.reduce((sum, piece) => sum + piece.byteLength, 0))
        return writev(pieces, position)
      }
    }
    return file
  }
}

describe('disk full', () => {
  it('ENOSPC mid-write (injected): io_error, the partial removed, the connection and other transfers unaffected', async () => {
    const box = sandbox()
    const storage = new FullDisk(box.uploads, 100_000)
    const port = await fastServer(receiver(box.uploads, { storage }))
    const { path: big } = sourceFile(box.root, 300_000, 'big.bin')
    const { path: small, data } = sourceFile(box.root, 50_000, 'small.bin')
    const socket = await client(port)
    await expect(sendFile(socket, big, { chunkBytes: 32_768 })).rejects.toMatchObject({
      code: 'ERR_FT_IO_ERROR',
    })
    await expect.poll(() => partials(box.uploads)).toEqual([])
    storage.budget = Number.POSITIVE_INFINITY
    const done = await sendFile(socket, small)
    expect(done.sha256).toBe(sha256(data))
    expect(existsSync(join(box.uploads, 'big.bin'))).toBe(false)
  })

  it('ENOSPC on a real 1 MiB tmpfs (when this machine lets us mount one)', async (context) => {
    const box = sandbox()
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', box.uploads], {
        stdio: 'ignore',
      })
    } catch {
      context.skip() // not root, or no mount(8): the injected case above covers the behaviour
    }
    onCleanup(() => void execFileSync('umount', ['-l', box.uploads], { stdio: 'ignore' }))
    const port = await fastServer(receiver(box.uploads, { minFreeBytes: 0 }))
    const { path, data } = sourceFile(box.root, 900_000)
    const socket = await client(port)
    const c = new FastClient(socket)
    c.json(Op.START, { ref: 1, name: 'big.bin', size: data.length })
    const id = (await c.next(Op.READY)).json.transferId as string
    // Someone else fills the disk after the free-space check passed.
    writeFileSync(join(box.uploads, 'filler'), Buffer.alloc(700_000))
    for (let at = 0; at < data.length; at += 100_000) {
      c.send(Op.DATA, dataFrame(id, at, data.subarray(at, at + 100_000)))
    }
    let reply = await c.next()
    while (reply.op === Op.ACK) reply = await c.next()
    expect(reply.json).toMatchObject({ code: 'io_error', transferId: id })
    await expect.poll(() => partials(box.uploads)).toEqual([])
    c.handler.detach()
    const { path: small } = sourceFile(box.root, 10_000, 'small.bin')
    await expect(sendFile(socket, small)).resolves.toMatchObject({ name: 'small.bin' })
    expect(existsSync(join(box.uploads, 'big.bin'))).toBe(false)
    void path
  })
})

describe('startup', () => {
  it('a missing upload directory is refused at construction', () => {
    const box = sandbox()
    expect(() => new TCPFileTransferServer(join(box.root, 'missing'))).toThrow(/does not exist/)
    expect(() => new FileReceiver(join(box.root, 'missing'))).toThrow(/does not exist/)
  })

  it('a read-only upload directory is refused at construction', (context) => {
    const box = sandbox()
    if (process.getuid?.() === 0) {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', box.uploads], {
          stdio: 'ignore',
        })
      } catch {
        context.skip() // root ignores permission bits, and no read-only mount is possible here
      }
      onCleanup(() => void execFileSync('umount', ['-l', box.uploads], { stdio: 'ignore' }))
    } else {
      chmodSync(box.uploads, 0o555)
      onCleanup(() => chmodSync(box.uploads, 0o755))
    }
    expect(() => new TCPFileTransferServer(box.uploads)).toThrow(/not writable/)
  })

  it('a file where the directory should be is refused', () => {
    const box = sandbox()
    expect(() => new FileReceiver(box.sentinel)).toThrow(/not a directory/)
  })
})

describe('shutdown and expiry', () => {
  it('shutdown during a transfer: a shutting_down notice, nothing published, the partial kept for another server', async () => {
    const box = sandbox()
    const r = new FileReceiver(box.uploads)
    const port = await fastServer(r)
    const { path, data } = sourceFile(box.root, 64_000)
    const c = new FastClient(await client(port))
    c.json(Op.START, { ref: 1, name: 'late.bin', size: data.length })
    const id = (await c.next(Op.READY)).json.transferId as string
    c.send(Op.DATA, dataFrame(id, 0, data.subarray(0, 32_000)))
    await c.next(Op.ACK)
    await r.close()
    expect((await c.next(Op.NOTICE)).json).toEqual({ code: 'shutting_down' })
    c.send(Op.DATA, dataFrame(id, 32_000, data.subarray(32_000)))
    expect((await c.next()).json).toMatchObject({
      code: expect.stringMatching(/shutting_down|not_found/),
    })
    c.json(Op.START, { ref: 2, name: 'new.bin', size: 1 })
    expect((await c.next()).json).toMatchObject({ code: 'shutting_down' })
    expect(existsSync(join(box.uploads, 'late.bin'))).toBe(false)
    expect(partials(box.uploads)).toHaveLength(2)
    // Another server on the same directory finishes it.
    const port2 = await fastServer(receiver(box.uploads))
    const done = await sendFile(await client(port2), path, { transferId: id, name: 'late.bin' })
    expect(done.sha256).toBe(sha256(data))
  })

  it('shutdown on the docs path sends a coded notice', async () => {
    const box = sandbox()
    const s = new TCPFileTransferServer(box.uploads)
    const c = new DocsClient(await client(await docsServer(s)))
    c.send({ type: 'file_start', transferId: 1, filename: 'a', fileSize: 10, chunkSize: 5 })
    await c.type('file_start_ack')
    await s.close()
    expect(await c.next()).toMatchObject({ type: 'error', code: 'shutting_down' })
    c.send({ type: 'file_chunk', transferId: 1, chunkIndex: 0, data: 'aGVsbG8=' })
    expect(await c.next()).toMatchObject({ type: 'error' })
    expect(existsSync(join(box.uploads, 'a'))).toBe(false)
  })

  it('unfinished uploads past their TTL are swept; a resume is then not_found', async () => {
    const box = sandbox()
    const r = receiver(box.uploads, { partialTtlMs: 60_000 })
    const port = await fastServer(r)
    const c = new FastClient(await client(port))
    c.json(Op.START, { ref: 1, name: 'old.bin', size: 10 })
    const id = (await c.next(Op.READY)).json.transferId as string
    c.socket.destroy()
    await expect.poll(() => existsSync(join(box.uploads, '.partial', `${id}.lock`))).toBe(false)
    expect(await r.sweep()).toBe(0)
    const past = new Date(Date.now() - 120_000)
    for (const f of partials(box.uploads)) utimesSync(join(box.uploads, '.partial', f), past, past)
    expect(await r.sweep()).toBe(1)
    expect(partials(box.uploads)).toEqual([])
    const d = new FastClient(await client(port))
    d.json(Op.START, { ref: 2, transferId: id })
    expect((await d.next()).json).toMatchObject({ code: 'not_found' })
  })
})
