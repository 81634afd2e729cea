/**
 * Where uploads go. The receiver speaks only to this interface, so a store can be swapped (or a
 * failing disk simulated in a test) without touching the protocol. `LocalDirectoryStorage` is the
 * default. Ids are always server-generated (32 lowercase hex characters); names have already
 * passed the name rules when they reach a store.
 */
export interface FileStorage {
  /**
   * Checks the store can be used and prepares it. Rejects with a clear error when it cannot
   * (a missing or read-only directory), so a server fails at startup, not at the first upload.
   */
  open(): Promise<void>
  /** Bytes free for new uploads. */
  freeBytes(): Promise<number>
  /** True when a published file of this name exists (a dangling symlink counts). */
  exists(name: string): Promise<boolean>
  /** Creates an empty partial upload, exclusively. */
  create(id: string, meta: PartialMeta): Promise<PartialFile>
  /** Reopens a partial upload for writing at its end, or `undefined` when there is none. */
  reopen(id: string): Promise<{ meta: PartialMeta; file: PartialFile } | undefined>
  /** The first `length` bytes of a partial upload (to re-hash it when resuming). */
  read(id: string, length: number): AsyncIterable<Uint8Array>
  /**
   * Publishes a finished partial under `name` (it is already synced and closed). Without
   * `overwrite`, rejects with an error whose `code` is `EEXIST` when the name is taken, and then
   * the partial is untouched.
   */
  publish(id: string, name: string, overwrite: boolean): Promise<void>
  /** Removes a partial upload and its metadata. Idempotent. */
  remove(id: string): Promise<void>
  /**
   * Takes the one-writer lock of a transfer, across every process sharing the store. Resolves
   * to a release function, or `undefined` when a live writer holds it.
   */
  lock(id: string): Promise<(() => Promise<void>) | undefined>
  /** Ids of partial uploads untouched for `ttlMs` or longer. */
  stale(ttlMs: number): Promise<string[]>
}

/** What is kept beside a partial upload, to resume it from any process. */
export interface PartialMeta {
  name: string
  size: number
  /** The SHA-256 the sender declared at start (lowercase hex), if any. */
  sha256?: string | undefined
  /** Wall-clock creation time, in ms since the epoch. */
  createdAt: number
}

/** An open partial upload. */
export interface PartialFile {
  /** Bytes in the file when it was opened. */
  readonly size: number
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): Promise<void>
  /**
   * Writes all of `pieces`, one after another, from `position` (a chunk that arrived in several
   * socket reads, not joined). Optional: without it, each piece goes through `write`.
   */
  writev?(pieces: readonly Uint8Array[], position: number): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}
