import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { closeAll } from '@verb-tcp/core/testing'
import { afterEach, expect, it } from 'vitest'
import { TCPFileTransferServer } from '../src/index.ts'
import {
  cleanup,
  client,
  DocsClient,
  docsServer,
  onCleanup,
  sandbox,
  sha256,
  sourceFile,
} from './helpers.ts'

afterEach(async () => {
  await closeAll()
  await cleanup()
})

function server(uploads: string, options = {}) {
  const s = new TCPFileTransferServer(uploads, options)
  onCleanup(() => s.close())
  return s
}

it("speaks the docs' messages: start ack, chunk acks, progress every 100 chunks, complete", async () => {
  const box = sandbox()
  const port = await docsServer(server(box.uploads))
  const c = new DocsClient(await client(port))
  const { data } = sourceFile(box.root, 250 * 1000 + 5)
  const chunkSize = 1000
  c.send({
    type: 'file_start',
    transferId: 't1',
    filename: 'docs.bin',
    fileSize: data.length,
    chunkSize,
  })
  expect(await c.type('file_start_ack')).toMatchObject({
    type: 'file_start_ack',
    transferId: 't1',
    status: 'ready',
    offset: 0,
  })
  const chunks = Math.ceil(data.length / chunkSize)
  for (let i = 0; i < chunks; i++) {
    c.send({
      type: 'file_chunk',
      transferId: 't1',
      chunkIndex: i,
      data: data.subarray(i * chunkSize, (i + 1) * chunkSize).toString('base64'),
    })
  }
  for (let i = 0; i < chunks; i++) {
    const ack = await c.type('file_chunk_ack')
    expect(ack).toMatchObject({
      type: 'file_chunk_ack',
      transferId: 't1',
      chunkIndex: i,
      receivedBytes: Math.min((i + 1) * chunkSize, data.length),
    })
  }
  const progress = c.inbox.filter((m) => m.type === 'file_progress')
  expect(progress.map((m) => m.receivedBytes)).toEqual([1000, 101_000, 201_000])
  c.send({ type: 'file_end', transferId: 't1' })
  const complete = await c.type('file_complete')
  expect(complete).toMatchObject({
    type: 'file_complete',
    transferId: 't1',
    filename: 'docs.bin',
    receivedBytes: data.length,
    sha256: sha256(data),
  })
  expect(typeof complete.duration).toBe('number')
  expect(typeof complete.avgSpeed).toBe('number')
  expect(Number.isFinite(complete.avgSpeed)).toBe(true)
  expect(readFileSync(join(box.uploads, 'docs.bin')).equals(data)).toBe(true)
})

it('a docs client that sends start, every chunk and end without waiting gets them handled in order', async () => {
  const box = sandbox()
  const port = await docsServer(server(box.uploads))
  const c = new DocsClient(await client(port))
  const { data } = sourceFile(box.root, 64 * 1024 * 40 + 3)
  const chunkSize = 64 * 1024
  c.send({
    type: 'file_start',
    transferId: 'p',
    filename: 'pipelined.bin',
    fileSize: data.length,
    chunkSize,
  })
  for (let i = 0; i * chunkSize < data.length; i++) {
    c.send({
      type: 'file_chunk',
      transferId: 'p',
      chunkIndex: i,
      data: data.subarray(i * chunkSize, (i + 1) * chunkSize).toString('base64'),
    })
  }
  c.send({ type: 'file_end', transferId: 'p' })
  const complete = await c.type('file_complete')
  expect(complete).toMatchObject({
    type: 'file_complete',
    receivedBytes: data.length,
    sha256: sha256(data),
  })
  expect(c.inbox.filter((m) => m.type === 'error')).toEqual([])
  expect(readFileSync(join(box.uploads, 'pipelined.bin')).equals(data)).toBe(true)
})

it("reports each start as 'start' and each refused one as 'refused', with the peer's error", async () => {
  const box = sandbox()
  const files = server(box.uploads)
  const started: unknown[] = []
  const refused: unknown[] = []
  files.receiver.on('start', (transfer) => started.push(transfer))
  files.receiver.on('refused', (error, request) =>
    refused.push({ code: error.code, wireCode: error.wireCode, name: request.name }),
  )
  const port = await docsServer(files)
  const c = new DocsClient(await client(port))
  const start = (transferId: string) =>
    c.send({ type: 'file_start', transferId, filename: 'once.bin', fileSize: 2 })
  start('t1')
  const ack = await c.type('file_start_ack')
  c.send({ type: 'file_chunk', transferId: 't1', data: Buffer.from('hi').toString('base64') })
  c.send({ type: 'file_end', transferId: 't1' })
  await c.type('file_complete')
  start('t2')
  expect(await c.type('error')).toMatchObject({ code: 'exists', transferId: 't2' })
  expect(started).toEqual([
    { transferId: ack.uploadId, name: 'once.bin', size: 2, offset: 0, resumed: false },
  ])
  expect(refused).toEqual([{ code: 'ERR_FT_EXISTS', wireCode: 'exists', name: 'once.bin' }])
})
