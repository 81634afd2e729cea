// A client written from the verb docs alone, in Python (stdlib only), uploads through the
// docs-compatible path. `.ci/run` installs python3.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { closeAll } from '@verb-tcp/core/testing'
import { afterEach, expect, it } from 'vitest'
import { TCPFileTransferServer } from '../src/index.ts'
import { cleanup, docsServer, onCleanup, sandbox, sha256, sourceFile } from './helpers.ts'

afterEach(async () => {
  await closeAll()
  await cleanup()
})

const script = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'docs_client.py')

it('a Python client written from the docs uploads a file unchanged', async () => {
  const box = sandbox()
  const s = new TCPFileTransferServer(box.uploads)
  onCleanup(() => s.close())
  const port = await docsServer(s)
  const { path, data } = sourceFile(box.root, 1_000_000 + 123)
  const { stdout } = await promisify(execFile)(
    'python3',
    [script, '127.0.0.1', String(port), path, 'from-python.bin', '8192'],
    { timeout: 30_000 },
  )
  const replies = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  expect(replies[0]).toMatchObject({ type: 'file_start_ack', status: 'ready' })
  const acks = replies.filter((m) => m.type === 'file_chunk_ack')
  expect(acks).toHaveLength(Math.ceil(data.length / 8192))
  expect(replies.filter((m) => m.type === 'file_progress').map((m) => m.receivedBytes)).toEqual([
    8192,
    101 * 8192,
  ])
  expect(replies.at(-1)).toMatchObject({
    type: 'file_complete',
    filename: 'from-python.bin',
    receivedBytes: data.length,
    sha256: sha256(data),
  })
  expect(readFileSync(join(box.uploads, 'from-python.bin')).equals(data)).toBe(true)
})
