import { until } from '@verb-tcp/core/testing'
import type { MemberInfo, RoomMember, RoomsAdapterHost } from '@verb-tcp/rooms'
import { Redis } from 'ioredis'
import { RedisAdapter, type RedisAdapterOptions } from '../src/index.ts'
import type { RedisServer } from './redis-server.ts'

export { until }

/** A stand-in for a room manager: records what the adapter asks of it. */
export class RecordingHost implements RoomsAdapterHost {
  readonly delivered: { room: string; text: string; exclude: string | undefined }[] = []
  readonly joined: { room: string; member: RoomMember }[] = []
  readonly left: { room: string; member: RoomMember }[] = []
  readonly errors: Error[] = []
  readonly local = new Map<string, MemberInfo[]>()

  deliver(room: string, bytes: Uint8Array, exclude?: string): number {
    this.delivered.push({ room, text: Buffer.from(bytes).toString(), exclude })
    return 1
  }
  remoteJoined(room: string, member: RoomMember): void {
    this.joined.push({ room, member })
  }
  remoteLeft(room: string, member: RoomMember): void {
    this.left.push({ room, member })
  }
  localMembers(room: string): MemberInfo[] {
    return this.local.get(room) ?? []
  }
  localRooms(): string[] {
    return [...this.local.keys()]
  }
  error(error: Error): void {
    this.errors.push(error)
  }
}

const open = new Set<{ close(): Promise<void> | void }>()

/** An adapter with a recording host, closed by `closeOpen`. */
export function node(
  url: string,
  options: RedisAdapterOptions = {},
): Promise<{ adapter: RedisAdapter; host: RecordingHost }> {
  return nodeOn({ redis: url, prefix: 'test', ...options })
}

/** `node`, with every option given (a cluster, say). */
export async function nodeOn(
  options: RedisAdapterOptions,
): Promise<{ adapter: RedisAdapter; host: RecordingHost }> {
  const adapter = new RedisAdapter(options)
  const host = new RecordingHost()
  adapter.attach(host)
  open.add(adapter)
  await adapter.ready
  return { adapter, host }
}

/** A plain ioredis client for looking at Redis from outside. */
export function client(url: string): Redis {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  open.add({ close: () => void redis.disconnect() })
  return redis
}

export async function closeOpen(): Promise<void> {
  const all = [...open]
  open.clear()
  await Promise.all(all.map((item) => item.close()))
}

export function member(connectionId: string, metadata: unknown = {}): MemberInfo {
  return { connectionId, metadata, joinedAt: 1_700_000_000_000 }
}

/** Joins like a manager does: subscribe at the first local member, then announce it. */
export function joinAs(
  adapter: RedisAdapter,
  host: RecordingHost,
  room: string,
  info: MemberInfo,
): void {
  const list = host.local.get(room) ?? []
  if (list.length === 0) adapter.subscribe(room)
  list.push(info)
  host.local.set(room, list)
  adapter.join(room, info)
}

export function leaveAs(
  adapter: RedisAdapter,
  host: RecordingHost,
  room: string,
  info: MemberInfo,
): void {
  const list = (host.local.get(room) ?? []).filter((m) => m.connectionId !== info.connectionId)
  adapter.leave(room, info)
  if (list.length === 0) {
    host.local.delete(room)
    adapter.unsubscribe(room)
  } else {
    host.local.set(room, list)
  }
}

export async function numsub(redis: Redis, channel: string): Promise<number> {
  const reply = (await redis.pubsub('NUMSUB', channel)) as [string, number]
  return Number(reply[1])
}

export async function shardNumsub(redis: Redis, channel: string): Promise<number> {
  const reply = (await redis.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number]
  return Number(reply[1])
}

/**
 * Freezes `server`, runs `write` (commands it will never answer), lets them be written, then
 * kills the server and waits until `adapter` has seen the outage.
 */
export async function dieWithWritesUnanswered(
  server: RedisServer,
  adapter: RedisAdapter,
  write: () => void,
): Promise<void> {
  server.freeze()
  write()
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
  await server.crash()
  await until(() => !adapter.stats.connected, { turns: 100, waits: 1500, interval: 10 })
}

/** `'resolved'` when `done` resolves within 2 s, `'still waiting'` otherwise. */
export function within2s(done: Promise<void>): Promise<unknown> {
  return Promise.race([
    done.then(() => 'resolved'),
    new Promise((resolve) => setTimeout(resolve, 2000, 'still waiting')),
  ])
}
