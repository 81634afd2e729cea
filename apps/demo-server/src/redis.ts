import { randomBytes } from 'node:crypto'
import type { RoomsAdapter } from '@verb-tcp/rooms'
import { RedisAdapter } from '@verb-tcp/rooms-redis'
import type { Logger } from 'pino'
import type { ServerConfig } from './args.ts'

/** How long startup waits for Redis before serving anyway (rooms then stay local until it answers). */
const READY_TIMEOUT = 5000

/**
 * `--redis URL`: the rooms adapter on Redis, and a connection-id prefix of this process's own,
 * so ids stay unique across every server on that Redis. Without `--redis`, nothing.
 */
export async function roomsAdapter(
  config: ServerConfig,
  logger: Logger,
): Promise<{ roomsAdapter?: RoomsAdapter; idPrefix?: string }> {
  if (config.redis === undefined) return {}
  const adapter = new RedisAdapter({ redis: config.redis })
  let timer: NodeJS.Timeout | undefined
  const ready = await Promise.race([
    adapter.ready.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_TIMEOUT)
    }),
  ]).catch(() => false)
  clearTimeout(timer)
  if (ready) logger.info({ redis: config.redis, nodeId: adapter.nodeId }, 'rooms on redis')
  else logger.warn({ redis: config.redis }, 'redis not reachable yet: rooms stay local until it is')
  return { roomsAdapter: adapter, idPrefix: `${randomBytes(3).toString('hex')}-` }
}
