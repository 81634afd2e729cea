import { constants, promises as fs } from 'node:fs'

/**
 * Direct I/O (`O_DIRECT`) wants the memory, the file offset and the length aligned to the
 * device's logical block; 4 KiB covers every common device.
 */
const ALIGN = 4096
/** The largest chunk written directly: one staging slot (the fast path's default chunk). */
const SLOT_BYTES = 1024 * 1024
/** Slots per process, shared by every upload: at most this many direct writes in flight. */
const SLOTS = 16

// The compiler's lib for this package declares WebAssembly's types, not its global value.
const { Memory } = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (size: { initial: number }) => { buffer: ArrayBuffer } }
  }
).WebAssembly

let staging: Uint8Array | undefined
const freeSlots: number[] = []

/** A free slot's offset in the staging memory, or `undefined` when every slot is in flight. */
function takeSlot(): number | undefined {
  if (staging === undefined) {
    // WebAssembly memory is the only page-aligned memory JavaScript can allocate; a Buffer's
    // address is whatever malloc returned. Allocated on the first direct write, never freed.
    staging = new Uint8Array(new Memory({ initial: (SLOT_BYTES * SLOTS) / 65536 }).buffer)
    for (let i = SLOTS - 1; i >= 0; i--) freeSlots.push(i * SLOT_BYTES)
  }
  return freeSlots.pop()
}

/**
 * Writes of a partial upload that bypass the page cache. Streaming a large upload through the
 * page cache costs the kernel a copy and a fresh page for every 4 KiB, and the fsync before
 * publishing writes it all back anyway; a direct write goes from the staging slot to the disk.
 * Measured on 1 GiB uploads: the receiver's system time fell by about a third. Chunks that are
 * not aligned (a file's tail, odd chunk sizes) or find no free slot go through the page cache as
 * before; the two kinds mix safely in one file (a direct write invalidates cached pages it
 * overlaps, and `fsync` on either descriptor covers the inode).
 */
export class DirectWrites {
  /** Bytes written directly since opened (for tests and diagnostics). */
  bytes = 0
  #disabled = false

  private constructor(readonly handle: fs.FileHandle) {}

  /**
   * Opens `path` a second time for direct writes, or resolves to `undefined` where there are
   * none (not Linux, a filesystem that refuses `O_DIRECT`, as older kernels' tmpfs), or when `path` is no
   * longer the file `file` has open.
   */
  static async open(path: string, file: fs.FileHandle): Promise<DirectWrites | undefined> {
    const { O_DIRECT, O_WRONLY, O_NOFOLLOW } = constants
    if (O_DIRECT === undefined) return undefined
    let handle: fs.FileHandle
    try {
      handle = await fs.open(path, O_WRONLY | O_NOFOLLOW | O_DIRECT)
    } catch {
      return undefined
    }
    try {
      const [a, b] = await Promise.all([handle.stat(), file.stat()])
      if (a.ino === b.ino && a.dev === b.dev) return new DirectWrites(handle)
    } catch {}
    await handle.close()
    return undefined
  }

  /**
   * Writes `length` bytes of `pieces` at `position` directly and resolves to `length`, or to
   * how many leading bytes it wrote (0 when the chunk is not eligible) for the caller to write
   * the rest through the page cache.
   */
  async write(pieces: readonly Uint8Array[], position: number, length: number): Promise<number> {
    if (this.#disabled || length > SLOT_BYTES) return 0
    if (position % ALIGN !== 0 || length % ALIGN !== 0) return 0
    const slot = takeSlot()
    if (slot === undefined) return 0
    try {
      const view = (staging as Uint8Array).subarray(slot, slot + length)
      let at = 0
      for (const piece of pieces) {
        view.set(piece, at)
        at += piece.byteLength
      }
      let done = 0
      while (done < length && done % ALIGN === 0) {
        let written: number
        try {
          ;({ bytesWritten: written } = await this.handle.write(
            view,
            done,
            length - done,
            position + done,
          ))
        } catch (error) {
          // A device whose logical block is larger than 4 KiB: stop trying, lose nothing.
          if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error
          this.#disabled = true
          break
        }
        if (written === 0) break
        done += written
      }
      this.bytes += done
      return done
    } finally {
      freeSlots.push(slot)
    }
  }

  close(): Promise<void> {
    return this.handle.close()
  }
}
