import { randomUUID } from 'node:crypto'
import { constants, promises as fs } from 'node:fs'
import { hostname } from 'node:os'

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY, O_RDONLY } = constants

/** Locks this process holds, by path → token: shared by every store instance in the process. */
const held = new Map<string, string>()

/** How long a half-finished stale-lock recovery may block others before it is itself stale. */
const RECOVERY_STALE_MS = 10_000

interface LockContent {
  pid: number
  host: string
  token: string
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readLock(path: string): Promise<LockContent | undefined> {
  try {
    const handle = await fs.open(path, O_RDONLY | O_NOFOLLOW)
    try {
      const parsed = JSON.parse(await handle.readFile('utf8')) as Partial<LockContent>
      if (typeof parsed.pid === 'number' && typeof parsed.token === 'string') {
        return { pid: parsed.pid, host: String(parsed.host), token: parsed.token }
      }
    } finally {
      await handle.close()
    }
  } catch {}
  return undefined
}

async function createExclusive(path: string, content: string): Promise<boolean> {
  try {
    const handle = await fs.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
    try {
      await handle.writeFile(content)
    } finally {
      await handle.close()
    }
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

/**
 * A lock file created with `O_EXCL` holding the owner's pid, host and a random token. A lock is
 * stale when its pid is gone on this host, or when it names this process but this process does
 * not hold it (a previous instance that died with it). Stale locks are removed under a second,
 * short-lived recovery lock, so two processes recovering at once cannot delete a fresh lock.
 * Locks of another host are never judged stale: a shared network directory needs an external lock.
 */
export async function acquireLock(path: string): Promise<(() => Promise<void>) | undefined> {
  const token = randomUUID()
  const content = JSON.stringify({ pid: process.pid, host: hostname(), token })
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createExclusive(path, content)) {
      held.set(path, token)
      return async () => {
        if (held.get(path) !== token) return
        held.delete(path)
        const current = await readLock(path)
        if (current?.token === token) await fs.rm(path, { force: true })
      }
    }
    const owner = await readLock(path)
    if (owner && !isStale(path, owner)) return undefined
    // No readable owner: a lock being written right now, or debris of a crash. Only old debris is stale.
    if (!owner && !(await olderThan(path, RECOVERY_STALE_MS))) return undefined
    if (!(await removeStale(path, owner))) return undefined
  }
  return undefined
}

async function olderThan(path: string, ms: number): Promise<boolean> {
  const stat = await fs.lstat(path).catch(() => undefined)
  return stat === undefined || Date.now() - stat.mtimeMs > ms
}

function isStale(path: string, owner: LockContent): boolean {
  if (owner.host !== hostname()) return false
  if (owner.pid === process.pid) return held.get(path) !== owner.token
  return !alive(owner.pid)
}

async function removeStale(path: string, seen: LockContent | undefined): Promise<boolean> {
  const recovery = `${path}.recover`
  if (!(await createExclusive(recovery, String(process.pid)))) {
    if (await olderThan(recovery, RECOVERY_STALE_MS)) await fs.rm(recovery, { force: true })
    return false
  }
  try {
    // Still the lock we judged stale? (An unreadable lock file is stale only if still unreadable.)
    const now = await readLock(path)
    if (now?.token !== seen?.token) return now === undefined
    await fs.rm(path, { force: true })
    return true
  } finally {
    await fs.rm(recovery, { force: true })
  }
}
