import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'

/** One of the adapter's connections: to one Redis, or to a Redis Cluster. */
export type Connection = Redis | Cluster

/** A Redis Cluster to connect to: its startup nodes, and ioredis' cluster options. */
export interface RedisClusterSource {
  cluster: ClusterNode[]
  options?: ClusterOptions
}

/** Where Redis is, as the application says it (see `RedisAdapterOptions.redis`). */
export type RedisSource = string | RedisOptions | Redis | Cluster | RedisClusterSource

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

/** Whether `source` names a Redis Cluster. */
export function isClusterSource(source: RedisSource): source is Cluster | RedisClusterSource {
  return (
    source instanceof Cluster ||
    (typeof source === 'object' &&
      source !== null &&
      Array.isArray((source as { cluster?: unknown }).cluster))
  )
}

/**
 * Opens one connection of the adapter's own from what the application gave. `sharded` asks a
 * cluster connection for sharded subscribers (SSUBSCRIBE goes to each channel's master).
 * `resend: false` makes commands in flight when the connection drops fail instead of being
 * written again after the reconnect (durable mode's stream connections resend themselves, in
 * their own order).
 */
export function openConnection(
  source: RedisSource,
  name: string,
  sharded = false,
  resend = true,
): Connection {
  if (isClusterSource(source)) {
    const own: ClusterOptions = {
      enableOfflineQueue: false,
      enableAutoPipelining: false,
      lazyConnect: false,
      shardedSubscribers: sharded,
      redisOptions: {
        connectionName: name,
        autoResubscribe: false,
        autoResendUnfulfilledCommands: resend,
      },
    }
    // ioredis 6 types its cluster options per reply mapping; these connections use the default.
    type Typed = ConstructorParameters<typeof Cluster>[1]
    if (source instanceof Cluster) return source.duplicate([], own as Typed)
    return new Cluster(source.cluster, {
      ...source.options,
      ...own,
      redisOptions: { ...source.options?.redisOptions, ...own.redisOptions },
    } as Typed)
  }
  const options: RedisOptions = {
    ...OWN,
    connectionName: name,
    autoResendUnfulfilledCommands: resend,
  }
  if (source instanceof Redis) return source.duplicate(options)
  // ioredis 6 types its constructor per reply mapping; these connections use the default one.
  type Legacy = RedisOptions & { replyMapping?: 'legacy' }
  if (typeof source === 'string') return new Redis(source, options as Legacy)
  return new Redis({ ...source, ...options } as Legacy)
}

/** Closes a connection without waiting on a Redis that may be gone. */
export async function closeConnection(redis: Connection): Promise<void> {
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

/** Errors a cluster gives while a master it needs is gone (or until the cluster has noticed). */
export function clusterUnavailable(error: Error): boolean {
  return /CLUSTERDOWN|TRYAGAIN|Cluster redirections|Connection is closed|ECONNREFUSED|refresh slots/i.test(
    error.message,
  )
}

/** Whether the cluster says it serves every slot (`cluster_state:ok`); false when it cannot say. */
export async function clusterServesEverySlot(connection: Connection): Promise<boolean> {
  try {
    const info = await (connection as Cluster).cluster('INFO')
    return String(info).includes('cluster_state:ok')
  } catch {
    return false
  }
}
