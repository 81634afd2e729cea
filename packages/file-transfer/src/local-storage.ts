import {
  closeSync,
  constants,
  promises as fs,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs'
import { isAbsolute, join, relative, sep } from 'node:path'
import { bool, knownKeys } from '@verb-tcp/core/validate'
import { PARTIAL_DIR } from './constants.ts'
import { DirectWrites } from './direct-writes.ts'
import { acquireLock } from './lock-file.ts'
import { isValidName } from './name.ts'
import type { FileStorage, PartialFile, PartialMeta } from './storage.ts'

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY, O_DIRECTORY } = constants
const ID = /^[0-9a-f]{32}$/

function ioError(message: string, cause?: unknown): Error {
  return new Error(message, cause === undefined ? undefined : { cause })
}

/** What is left of `pieces` once their first `bytes` were written (a short `writev`). */
function after(pieces: readonly Uint8Array[], bytes: number): readonly Uint8Array[] {
  let skip = bytes
  let i = 0
  while (i < pieces.length && skip >= (pieces[i] as Uint8Array).byteLength) {
    skip -= (pieces[i] as Uint8Array).byteLength
    i++
  }
  if (i === pieces.length) return []
  const rest = pieces.slice(i)
  if (skip > 0) rest[0] = (rest[0] as Uint8Array).subarray(skip)
  return rest
}

class LocalPartialFile implements PartialFile {
  constructor(
    readonly handle: fs.FileHandle,
    readonly size: number,
    readonly direct: DirectWrites | undefined,
  ) {}

  async write(data: Uint8Array, position: number): Promise<void> {
    if (this.direct) return this.writev([data], position)
    let done = 0
    while (done < data.byteLength) {
      const { bytesWritten } = await this.handle.write(
        data,
        done,
        data.byteLength - done,
        position + done,
      )
      done += bytesWritten
    }
  }

  async writev(pieces: readonly Uint8Array[], position: number): Promise<void> {
    let rest = pieces
    let at = position
    if (this.direct) {
      let length = 0
      for (const piece of pieces) length += piece.byteLength
      const done = await this.direct.write(pieces, position, length)
      if (done === length) return
      rest = after(pieces, done)
      at += done
    }
    while (rest.length > 0) {
      const { bytesWritten } = await this.handle.writev(rest as Uint8Array[], at)
      if (bytesWritten === 0) throw new Error('writev wrote nothing')
      at += bytesWritten
      rest = after(rest, bytesWritten)
    }
  }

  sync(): Promise<void> {
    return this.handle.sync()
  }

  async close(): Promise<void> {
    try {
      await this.direct?.close()
    } finally {
      await this.handle.close()
    }
  }
}

export interface LocalDirectoryStorageOptions {
  /**
   * Write aligned chunks of partial uploads with `O_DIRECT`, bypassing the page cache, where
   * the filesystem allows it (elsewhere, and for unaligned chunks, writes are buffered).
   * @default true
   */
  directWrites?: boolean
}

/**
 * The default store: a local directory. Published files sit in the directory under their
 * validated names; unfinished uploads sit in a hidden `.partial` directory inside it (same
 * filesystem, so publishing is a rename), named by their server-generated id, with a JSON
 * sidecar and a lock file. Every path is checked to stay inside the directory's realpath; files
 * are created with `O_EXCL | O_NOFOLLOW`, so a planted symlink is never followed; publishing
 * without overwrite is a hard link (which fails if the name exists, atomically) then an unlink,
 * and the directory is fsynced after.
 */
export class LocalDirectoryStorage implements FileStorage {
  readonly directory: string
  readonly #directWrites: boolean
  #root = ''
  #partials = ''

  constructor(directory: string, options: LocalDirectoryStorageOptions = {}) {
    this.directory = directory
    knownKeys(options, ['directWrites'], 'LocalDirectoryStorage')
    this.#directWrites = bool(options.directWrites, 'directWrites', true)
  }

  async open(): Promise<void> {
    if (this.#root === '') this.openSync()
  }

  /**
   * `open()`, synchronously: for constructors, so a server with a missing or read-only upload
   * directory fails at startup. Throws an `Error` saying which, with the system error as `cause`.
   */
  openSync(): void {
    let root: string
    try {
      root = realpathSync(this.directory)
    } catch (cause) {
      throw ioError(`upload directory ${this.directory} does not exist`, cause)
    }
    if (!statSync(root).isDirectory()) {
      throw ioError(`upload directory ${this.directory} is not a directory`)
    }
    const partials = join(root, PARTIAL_DIR)
    try {
      mkdirSync(partials, { mode: 0o700 })
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw ioError(`upload directory ${this.directory} is not writable`, cause)
      }
    }
    if (!lstatSync(partials).isDirectory()) {
      throw ioError(`${partials} exists and is not a directory (a symlink is refused)`)
    }
    // Writable for real: access() says yes to root on a read-only mount's 0555 directory.
    const probe = join(partials, `.probe-${process.pid}-${Date.now()}`)
    try {
      closeSync(openSync(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600))
      rmSync(probe, { force: true })
    } catch (cause) {
      throw ioError(`upload directory ${this.directory} is not writable`, cause)
    }
    this.#root = root
    this.#partials = partials
  }

  async freeBytes(): Promise<number> {
    const stats = await fs.statfs(this.#root)
    return stats.bavail * stats.bsize
  }

  async exists(name: string): Promise<boolean> {
    return (await fs.lstat(this.#final(name)).catch(() => undefined)) !== undefined
  }

  async create(id: string, meta: PartialMeta): Promise<PartialFile> {
    const flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
    const metaHandle = await fs.open(this.#path(id, '.json'), flags, 0o600)
    try {
      await metaHandle.writeFile(JSON.stringify(meta))
    } finally {
      await metaHandle.close()
    }
    return this.#partial(id, await fs.open(this.#path(id), flags, 0o600), 0)
  }

  async reopen(id: string): Promise<{ meta: PartialMeta; file: PartialFile } | undefined> {
    let meta: PartialMeta
    try {
      const handle = await fs.open(this.#path(id, '.json'), O_RDONLY | O_NOFOLLOW)
      try {
        meta = JSON.parse(await handle.readFile('utf8')) as PartialMeta
      } finally {
        await handle.close()
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    // Never trust what is on disk more than what came off the wire.
    if (!isValidName(meta.name) || !Number.isSafeInteger(meta.size) || meta.size < 0) {
      throw ioError(`partial upload ${id} has corrupt metadata`)
    }
    let handle: fs.FileHandle
    try {
      handle = await fs.open(this.#path(id), O_WRONLY | O_NOFOLLOW)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
    const { size } = await handle.stat()
    return { meta, file: await this.#partial(id, handle, size) }
  }

  async *read(id: string, length: number): AsyncIterable<Uint8Array> {
    const handle = await fs.open(this.#path(id), O_RDONLY | O_NOFOLLOW)
    try {
      const buffer = Buffer.allocUnsafe(Math.min(length, 1024 * 1024) || 1)
      let position = 0
      while (position < length) {
        const want = Math.min(buffer.length, length - position)
        const { bytesRead } = await handle.read(buffer, 0, want, position)
        if (bytesRead === 0) throw ioError(`partial upload ${id} is shorter than ${length} bytes`)
        yield buffer.subarray(0, bytesRead)
        position += bytesRead
      }
    } finally {
      await handle.close()
    }
  }

  async publish(id: string, name: string, overwrite: boolean): Promise<void> {
    const from = this.#path(id)
    const to = this.#final(name)
    if (overwrite) {
      // rename replaces a symlink at `to` rather than writing through it.
      await fs.rename(from, to)
    } else {
      await fs.link(from, to)
      await fs.rm(from, { force: true })
    }
    await fs.rm(this.#path(id, '.json'), { force: true })
    await this.#syncDirectory(this.#root)
  }

  async remove(id: string): Promise<void> {
    await fs.rm(this.#path(id), { force: true })
    await fs.rm(this.#path(id, '.json'), { force: true })
  }

  lock(id: string): Promise<(() => Promise<void>) | undefined> {
    return acquireLock(this.#path(id, '.lock'))
  }

  async stale(ttlMs: number): Promise<string[]> {
    const now = Date.now()
    const out: string[] = []
    for (const entry of await fs.readdir(this.#partials)) {
      if (!entry.endsWith('.json')) continue
      const id = entry.slice(0, -5)
      if (!ID.test(id)) continue
      const data = await fs.lstat(this.#path(id)).catch(() => undefined)
      const meta = await fs.lstat(this.#path(id, '.json')).catch(() => undefined)
      const touched = Math.max(data?.mtimeMs ?? 0, meta?.mtimeMs ?? 0)
      if (now - touched >= ttlMs) out.push(id)
    }
    return out
  }

  async #partial(id: string, handle: fs.FileHandle, size: number): Promise<LocalPartialFile> {
    const direct = this.#directWrites ? await DirectWrites.open(this.#path(id), handle) : undefined
    return new LocalPartialFile(handle, size, direct)
  }

  async #syncDirectory(path: string): Promise<void> {
    const handle = await fs.open(path, O_RDONLY | O_DIRECTORY)
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  }

  #path(id: string, suffix = ''): string {
    if (!ID.test(id)) throw ioError(`not a transfer id: ${JSON.stringify(id)}`)
    return this.#inside(join(this.#partials, id + suffix))
  }

  #final(name: string): string {
    if (!isValidName(name)) throw ioError(`not a valid file name: ${JSON.stringify(name)}`)
    return this.#inside(join(this.#root, name))
  }

  /** Containment against the realpath: `startsWith` would accept `/uploads-evil` for `/uploads`. */
  #inside(path: string): string {
    const rel = relative(this.#root, path)
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw ioError(`path escapes the upload directory: ${JSON.stringify(path)}`)
    }
    return path
  }
}
