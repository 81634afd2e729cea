import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { closeAll } from '@verb-tcp/core/testing'
import fc from 'fast-check'
import { afterEach, expect, it } from 'vitest'
import { openHash, WORKER_HASH_MIN_BYTES } from '../src/hasher.ts'
import { sendFile } from '../src/index.ts'
import { cleanup, client, fastServer, receiver, sandbox, sha256, sourceFile } from './helpers.ts'

afterEach(async () => {
  await closeAll()
  await cleanup()
})

const MiB = 1024 * 1024
// Larger than the shared ring (8 MiB), so chunks wrap around it and wait for room.
const data = randomBytes(20 * MiB + 123)
const expected = createHash('sha256').update(data).digest('hex')

it('the hashing thread gives the same digest for any chunking, chunks larger than its ring included', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 12 * MiB }), { minLength: 1, maxLength: 8 }),
      async (sizes) => {
        const hash = openHash(WORKER_HASH_MIN_BYTES)
        const updates: Promise<void>[] = []
        let at = 0
        for (const size of sizes) {
          if (at >= data.length) break
          updates.push(hash.update(data.subarray(at, at + size)))
          at += size
        }
        updates.push(hash.update(data.subarray(at)))
        const digest = await hash.digest()
        await Promise.all(updates)
        expect(digest).toBe(expected)
      },
    ),
    { numRuns: 12 },
  )
})

it('streams interleaved on the hashing thread stay apart; a discarded one does not disturb the others', async () => {
  const a = openHash(WORKER_HASH_MIN_BYTES)
  const b = openHash(WORKER_HASH_MIN_BYTES)
  const dropped = openHash(WORKER_HASH_MIN_BYTES)
  for (let at = 0; at < 6 * MiB; at += MiB) {
    void a.update(data.subarray(at, at + MiB))
    void dropped.update(data.subarray(at, at + MiB))
    void b.update(data.subarray(6 * MiB - at - MiB, 6 * MiB - at))
  }
  dropped.discard()
  const [da, db] = await Promise.all([a.digest(), b.digest()])
  expect(da).toBe(sha256(data.subarray(0, 6 * MiB)))
  const reversed = createHash('sha256')
  for (let at = 5 * MiB; at >= 0; at -= MiB) reversed.update(data.subarray(at, at + MiB))
  expect(db).toBe(reversed.digest('hex'))
})

it('small transfers hash on the calling thread, with the same result', async () => {
  const hash = openHash(1000)
  await hash.update(data.subarray(0, 1000))
  expect(await hash.digest()).toBe(sha256(data.subarray(0, 1000)))
})

it("a large upload, hashed off the receiver's I/O thread, is verified and byte-identical; so is its resume", async () => {
  const box = sandbox()
  const port = await fastServer(receiver(box.uploads))
  const { path, data: file } = sourceFile(box.root, 12 * MiB + 5)
  const controller = new AbortController()
  let id = ''
  const first = await client(port)
  await expect(
    sendFile(first, path, {
      progressIntervalMs: 0,
      signal: controller.signal,
      onStart: (s) => {
        id = s.transferId
      },
      onProgress: (p) => {
        if (p.bytes >= 5 * MiB) controller.abort()
      },
    }),
  ).rejects.toMatchObject({ name: 'AbortError' })
  first.destroy()
  // The resume re-hashes the prefix on both ends (the server from its partial) before going on.
  const done = await sendFile(await client(port), path, { transferId: id })
  expect(done).toMatchObject({ size: file.length, sha256: sha256(file) })
  expect(readFileSync(join(box.uploads, 'source.bin')).equals(file)).toBe(true)
})
