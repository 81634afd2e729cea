import { randomBytes } from 'node:crypto'
import {
  closeSync,
  constants,
  existsSync,
  promises as fs,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { DirectWrites } from '../src/direct-writes.ts'
import { LocalDirectoryStorage, type PartialFile } from '../src/index.ts'
import { cleanup, onCleanup, sandbox } from './helpers.ts'

afterEach(cleanup)

const ID = 'ab'.repeat(16)
const meta = { name: 'out.bin', size: 0, createdAt: 0 }

/** Whether the filesystem under `dir` accepts O_DIRECT (tmpfs before Linux 6.6 does not). */
function directSupported(dir: string): boolean {
  if (constants.O_DIRECT === undefined) return false
  const probe = join(dir, 'probe')
  try {
    closeSync(openSync(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT))
    return true
  } catch {
    return false
  } finally {
    rmSync(probe, { force: true })
  }
}

const directBytes = (file: PartialFile) =>
  (file as unknown as { direct?: { bytes: number } }).direct?.bytes

async function open(uploads: string, options?: { directWrites?: boolean }) {
  const storage = new LocalDirectoryStorage(uploads, options)
  await storage.open()
  const file = await storage.create(ID, meta)
  onCleanup(() => file.close().catch(() => {}))
  return { storage, file, path: join(uploads, '.partial', ID) }
}

/** Aligned chunks in odd pieces, an unaligned one, a tail, and chunks at unaligned offsets. */
async function writeMixed(file: PartialFile): Promise<Buffer> {
  const data = randomBytes(3 * 1024 * 1024 + 4096 * 3 + 777)
  const mib = 1024 * 1024
  // 1 MiB at 0 in three pieces split off the 4 KiB grid.
  await (file.writev as NonNullable<PartialFile['writev']>)(
    [data.subarray(0, 1000), data.subarray(1000, 700_001), data.subarray(700_001, mib)],
    0,
  )
  // 1 MiB + 4 KiB: larger than a staging slot.
  await file.write(data.subarray(mib, 2 * mib + 4096), mib)
  // 100 bytes: unaligned length, which leaves the next chunk at an unaligned offset.
  await file.write(data.subarray(2 * mib + 4096, 2 * mib + 4196), 2 * mib + 4096)
  await file.write(data.subarray(2 * mib + 4196, 3 * mib + 4196), 2 * mib + 4196)
  // The rest, aligned or not, in one write.
  await file.write(data.subarray(3 * mib + 4196), 3 * mib + 4196)
  await file.sync()
  return data
}

it('writes aligned chunks directly and the rest through the page cache, byte-identical', async (ctx) => {
  const { uploads } = sandbox()
  if (!directSupported(uploads)) ctx.skip()
  const { file, path } = await open(uploads)
  const data = await writeMixed(file)
  // Only the first 1 MiB chunk is aligned in offset and length and fits a slot.
  expect(directBytes(file)).toBe(1024 * 1024)
  await file.close()
  expect(readFileSync(path).equals(data)).toBe(true)
})

it('keeps every byte when more chunks are in flight than there are staging slots', async (ctx) => {
  const { uploads } = sandbox()
  if (!directSupported(uploads)) ctx.skip()
  const { file, path } = await open(uploads)
  const chunk = 64 * 1024
  const data = randomBytes(40 * chunk)
  await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      file.write(data.subarray(i * chunk, (i + 1) * chunk), i * chunk),
    ),
  )
  expect(directBytes(file)).toBeGreaterThan(0)
  await file.close()
  expect(readFileSync(path).equals(data)).toBe(true)
})

it('writes byte-identical on tmpfs, whether its kernel takes O_DIRECT there or not', async (ctx) => {
  if (!existsSync('/dev/shm')) ctx.skip()
  const root = mkdtempSync('/dev/shm/ft-test-')
  onCleanup(() => rmSync(root, { recursive: true, force: true }))
  const { file, path } = await open(root)
  expect(directBytes(file) === undefined).toBe(!directSupported(root))
  const data = await writeMixed(file)
  await file.close()
  expect(readFileSync(path).equals(data)).toBe(true)
})

it('writes nothing directly with directWrites: false, and refuses unknown options', async () => {
  const { uploads } = sandbox()
  const { file, path } = await open(uploads, { directWrites: false })
  expect(directBytes(file)).toBeUndefined()
  const data = await writeMixed(file)
  await file.close()
  expect(readFileSync(path).equals(data)).toBe(true)
  expect(() => new LocalDirectoryStorage(uploads, { direct: true } as never)).toThrow(/direct/)
})

it('opens no direct descriptor for a path that is missing or no longer the open file', async () => {
  const { root } = sandbox()
  const a = join(root, 'a')
  const b = join(root, 'b')
  writeFileSync(a, '')
  writeFileSync(b, '')
  const handle = await fs.open(a, 'r+')
  onCleanup(() => handle.close())
  expect(await DirectWrites.open(join(root, 'missing'), handle)).toBeUndefined()
  // `a` replaced by another file after it was opened: the second descriptor would write elsewhere.
  expect(await DirectWrites.open(b, handle)).toBeUndefined()
})
