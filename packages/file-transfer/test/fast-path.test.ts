import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { closeAll } from '@verb-tcp/core/testing'
import { afterEach, expect, it } from 'vitest'
import { sendFile } from '../src/index.ts'
import { cleanup, client, fastServer, receiver, sandbox, sha256, sourceFile } from './helpers.ts'

afterEach(async () => {
  await closeAll()
  await cleanup()
})

it('uploads a file byte-identical, verified and published, with progress', async () => {
  const box = sandbox()
  const r = receiver(box.uploads)
  const port = await fastServer(r)
  const { path, data } = sourceFile(box.root, 3 * 1024 * 1024 + 17)
  const progress: number[] = []
  const done = await sendFile(await client(port), path, {
    name: 'out.bin',
    chunkBytes: 256 * 1024,
    windowBytes: 1024 * 1024,
    progressIntervalMs: 0,
    onProgress: (p) => progress.push(p.bytes),
  })
  expect(done).toMatchObject({ name: 'out.bin', size: data.length, sha256: sha256(data) })
  expect(readFileSync(join(box.uploads, 'out.bin')).equals(data)).toBe(true)
  expect(progress.at(-1)).toBe(data.length)
  expect(readdirSync(join(box.uploads, '.partial'))).toEqual([])
})

it('uploads an empty file', async () => {
  const box = sandbox()
  const port = await fastServer(receiver(box.uploads))
  const { path } = sourceFile(box.root, 0)
  const done = await sendFile(await client(port), path, { name: 'empty' })
  expect(done.sha256).toBe(sha256(Buffer.alloc(0)))
  expect(readFileSync(join(box.uploads, 'empty')).length).toBe(0)
})

it('uploads with per-chunk CRC-32', async () => {
  const box = sandbox()
  const port = await fastServer(receiver(box.uploads))
  const { path, data } = sourceFile(box.root, 1_000_000)
  await sendFile(await client(port), path, {
    name: 'crc.bin',
    chunkBytes: 65536,
    chunkChecksum: true,
  })
  expect(readFileSync(join(box.uploads, 'crc.bin')).equals(data)).toBe(true)
})
