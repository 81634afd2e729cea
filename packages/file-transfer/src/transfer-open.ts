import { randomBytes } from 'node:crypto'
import { ioFailure } from './chunk-writer.ts'
import { TRANSFER_ID_BYTES } from './constants.ts'
import { refuse, WireCode } from './errors.ts'
import { openHash, type StreamHash } from './hasher.ts'
import { nameProblem } from './name.ts'
import type { ReceiverConnection } from './receiver-connection.ts'
import type { ReceiverSettings } from './receiver-options.ts'
import type { FileStorage, PartialFile, PartialMeta } from './storage.ts'
import type { Transfer } from './transfer.ts'
import type { StartRequest, StartResult } from './types.ts'

const ID = /^[0-9a-f]{32}$/

/** What opening a transfer needs of its receiver. */
export interface OpenContext {
  readonly settings: ReceiverSettings
  readonly storage: FileStorage
  /** Names being written by this process: two uploads of one name cannot both run. */
  readonly names: Set<string>
  readonly transfers: ReadonlyMap<string, Transfer>
  /** Transfers whose connection closed, still finishing their last write. */
  readonly detaching: ReadonlyMap<string, Promise<void>>
  readonly closing: boolean
  /** Makes the opened partial a transfer of `owner`, taking `offset` bytes as received. */
  adopt(
    owner: ReceiverConnection,
    id: string,
    meta: PartialMeta,
    file: PartialFile,
    hash: StreamHash,
    release: () => Promise<void>,
    offset?: number,
  ): void
}

/** Starts a new upload: the name, size, quota and free-space rules, then a locked, empty partial. */
export async function createTransfer(
  ctx: OpenContext,
  owner: ReceiverConnection,
  request: StartRequest,
): Promise<StartResult> {
  const s = ctx.settings
  const problem = nameProblem(request.name)
  if (problem) throw refuse(WireCode.NAME_INVALID, problem)
  const { name, size } = request
  if (!Number.isSafeInteger(size) || size < 0) {
    throw refuse(WireCode.BAD_REQUEST, 'size must be a non-negative integer')
  }
  if (size > s.maxFileBytes) {
    throw refuse(WireCode.TOO_LARGE, `size ${size} is over the limit of ${s.maxFileBytes}`, {
      limit: s.maxFileBytes,
      declaredLength: size,
    })
  }
  owner.checkQuota(size)
  if (ctx.names.has(name) || (!s.overwrite && (await ctx.storage.exists(name)))) {
    throw refuse(WireCode.EXISTS, `${name} exists or is being uploaded`)
  }
  await checkSpace(ctx, size)
  if (ctx.closing) throw refuse(WireCode.SHUTTING_DOWN, 'the server is shutting down')
  // Checked again after the awaits: another start may have taken the name or the quota.
  if (ctx.names.has(name)) throw refuse(WireCode.EXISTS, `${name} is being uploaded`)
  owner.checkQuota(size)
  const id = randomBytes(TRANSFER_ID_BYTES).toString('hex')
  ctx.names.add(name)
  try {
    const release = await ctx.storage.lock(id)
    if (!release) throw refuse(WireCode.BUSY, 'the new transfer is locked')
    const meta: PartialMeta = { name, size, sha256: request.sha256, createdAt: Date.now() }
    let file: PartialFile
    try {
      file = await ctx.storage.create(id, meta)
    } catch (cause) {
      await release()
      await ctx.storage.remove(id).catch(() => {})
      throw ioFailure(id, cause)
    }
    ctx.adopt(owner, id, meta, file, openHash(size), release)
    return { transferId: id, name, size, offset: 0, resumed: false }
  } catch (error) {
    ctx.names.delete(name)
    throw error
  }
}

/**
 * Resumes an upload from what its partial holds on disk (written here or by another process
 * sharing the directory): the same name and size, one writer, the hash rebuilt by re-reading.
 */
export async function resumeTransfer(
  ctx: OpenContext,
  owner: ReceiverConnection,
  request: StartRequest,
  id: string,
): Promise<StartResult> {
  if (!ID.test(id)) throw refuse(WireCode.BAD_REQUEST, 'transferId must be 32 hex characters')
  // A reconnect often arrives before the old connection's last write is done: wait for it.
  await ctx.detaching.get(id)
  const current = ctx.transfers.get(id)
  if (current) {
    if (current.owner === owner) {
      return {
        transferId: id,
        name: current.meta.name,
        size: current.meta.size,
        offset: current.received,
        resumed: true,
      }
    }
    throw refuse(WireCode.BUSY, 'another connection is writing this transfer', { transferId: id })
  }
  const release = await ctx.storage.lock(id)
  if (!release) {
    throw refuse(WireCode.BUSY, 'another connection is writing this transfer', { transferId: id })
  }
  let adopted = false
  try {
    const found = await ctx.storage.reopen(id).catch((cause) => {
      throw ioFailure(id, cause)
    })
    if (!found) throw refuse(WireCode.NOT_FOUND, 'no such transfer', { transferId: id })
    const { meta, file } = found
    try {
      if (request.name !== undefined && request.name !== meta.name) {
        throw refuse(WireCode.BAD_REQUEST, 'name differs from the transfer being resumed', {
          transferId: id,
        })
      }
      if (request.size !== undefined && request.size !== meta.size) {
        throw refuse(WireCode.BAD_REQUEST, 'size differs from the transfer being resumed', {
          transferId: id,
        })
      }
      if (ctx.names.has(meta.name)) {
        throw refuse(WireCode.EXISTS, `${meta.name} is being uploaded`, { transferId: id })
      }
      // A crash can leave bytes past the declared size only if the disk lies; refuse to go on.
      if (file.size > meta.size) throw ioFailure(id, new Error('partial longer than declared'))
      owner.checkQuota(meta.size - file.size)
      await checkSpace(ctx, meta.size - file.size)
      // The hash state cannot be saved, so a resumed upload re-reads what is on disk.
      const hash = openHash(meta.size)
      try {
        for await (const chunk of ctx.storage.read(id, file.size)) await hash.update(chunk)
        if (ctx.closing) throw refuse(WireCode.SHUTTING_DOWN, 'the server is shutting down')
        if (ctx.names.has(meta.name)) {
          throw refuse(WireCode.EXISTS, `${meta.name} is being uploaded`, { transferId: id })
        }
      } catch (error) {
        hash.discard()
        throw error
      }
      ctx.names.add(meta.name)
      ctx.adopt(owner, id, meta, file, hash, release, file.size)
      adopted = true
      return {
        transferId: id,
        name: meta.name,
        size: meta.size,
        offset: file.size,
        resumed: true,
      }
    } finally {
      if (!adopted) await file.close().catch(() => {})
    }
  } finally {
    if (!adopted) await release()
  }
}

async function checkSpace(ctx: OpenContext, bytes: number): Promise<void> {
  const free = await ctx.storage.freeBytes().catch(() => Number.POSITIVE_INFINITY)
  if (free - bytes < ctx.settings.minFreeBytes) {
    throw refuse(WireCode.QUOTA, `not enough free space for ${bytes} bytes`, { limit: free })
  }
}
