import { Redis, type RedisOptions } from 'ioredis'

/**
 * What the adapter needs of its connections. Commands fail at once while Redis is away
 * (no offline queue: a broadcast is delivered now or lost, never sent minutes late), and the
 * adapter resubscribes itself after a reconnect, from its own list of rooms.
 */
const OWN: RedisOptions = {
  enableOfflineQueue: false,
  autoResubscribe: false,
  // A command is written when issued. Auto-pipelining would gather a turn's commands into one
  // write a tick later, but the adapter already sends one envelope per room per turn (fewer while
  // one is unanswered); the extra pipeline and the later write cost more than they saved in the
  // fan-out benchmark (two nodes 0.76-0.77x of one node with it, 0.80-0.84x without).
  enableAutoPipelining: false,
  lazyConnect: false,
}

/** Opens one connection of the adapter's own from what the application gave. */
export function openConnection(source: string | RedisOptions | Redis, name: string): Redis {
  const options: RedisOptions = { ...OWN, connectionName: name }
  if (source instanceof Redis) return source.duplicate(options)
  // ioredis 6 types its constructor per reply mapping; these connections use the default one.
  type Legacy = RedisOptions & { replyMapping?: 'legacy' }
  if (typeof source === 'string') return new Redis(source, options as Legacy)
  return new Redis({ ...source, ...options } as Legacy)
}

/** Closes a connection without waiting on a Redis that may be gone. */
export async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === 'end') return
  if (redis.status !== 'ready') {
    redis.disconnect()
    return
  }
  try {
    await redis.quit()
  } catch {
    redis.disconnect()
  }
}
