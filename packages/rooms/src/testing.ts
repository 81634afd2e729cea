/**
 * `@verb-tcp/rooms/testing`: the conformance cases every `RoomsAdapter` must pass, for authors of
 * adapters. Framework-free (assertions from `node:assert`): hand each case to your runner.
 *
 * @example
 * ```ts
 * import { InProcessAdapter, InProcessBus } from '@verb-tcp/rooms'
 * import { adapterConformance } from '@verb-tcp/rooms/testing'
 * import { it } from 'vitest'
 *
 * const cases = adapterConformance({
 *   async create(nodes) {
 *     const bus = new InProcessBus()
 *     return Array.from({ length: nodes }, () => new InProcessAdapter({ bus }))
 *   },
 * })
 * for (const { name, run } of cases) it(name, run, 30_000)
 * ```
 * @packageDocumentation
 */
import assert from 'node:assert/strict'
import type { MemberInfo, RoomMember, RoomsAdapter, RoomsAdapterHost } from './adapter.ts'

export interface AdapterFactory {
  /**
   * `nodes` adapters that act as separate nodes of one cluster (same bus, same Redis, ...), each
   * with its own `nodeId`, ready for `attach`. Each case closes every adapter it got.
   */
  create(nodes: number): Promise<RoomsAdapter[]>
  /** Runs after each case, after the adapters are closed. */
  cleanup?(): Promise<void>
  /** How long a case waits for something to arrive from another node, in ms. @default 5000 */
  waitMs?: number
  /** Timeout passed to `members()`. @default 2000 */
  membersTimeoutMs?: number
}

export interface ConformanceCase {
  name: string
  run(): Promise<void>
}

/** What a fake manager received from its adapter. */
export interface RecordingHost extends RoomsAdapterHost {
  readonly deliveries: Array<{ room: string; bytes: Buffer; exclude: string | undefined }>
  readonly joined: Array<{ room: string; member: RoomMember }>
  readonly left: Array<{ room: string; member: RoomMember }>
  readonly errors: Error[]
  /** Local members the host reports, per room, as a manager would. */
  readonly local: Map<string, Map<string, MemberInfo>>
}

/** A stand-in for a `TCPRoomManager` that records every call an adapter makes on it. */
export function createRecordingHost(): RecordingHost {
  const local = new Map<string, Map<string, MemberInfo>>()
  const host: RecordingHost = {
    deliveries: [],
    joined: [],
    left: [],
    errors: [],
    local,
    deliver(room, bytes, exclude) {
      host.deliveries.push({ room, bytes: Buffer.from(bytes), exclude })
      return local.get(room)?.size ?? 0
    },
    remoteJoined(room, member) {
      host.joined.push({ room, member })
    },
    remoteLeft(room, member) {
      host.left.push({ room, member })
    },
    localMembers(room) {
      return [...(local.get(room)?.values() ?? [])]
    },
    localRooms() {
      return [...local.keys()]
    },
    error(error) {
      host.errors.push(error)
    },
  }
  return host
}

interface Node {
  adapter: RoomsAdapter
  host: RecordingHost
  /** Joins as a manager does: subscribe at the first local member, then `join`. */
  join(room: string, connectionId: string, metadata?: unknown): void
  /** Leaves as a manager does: `leave`, then unsubscribe at the last local member. */
  leave(room: string, connectionId: string): void
}

function node(adapter: RoomsAdapter): Node {
  const host = createRecordingHost()
  adapter.attach(host)
  return {
    adapter,
    host,
    join(room, connectionId, metadata = { name: connectionId }) {
      let members = host.local.get(room)
      if (!members) {
        members = new Map()
        host.local.set(room, members)
        adapter.subscribe(room)
      }
      const member = { connectionId, metadata, joinedAt: 1_700_000_000_000 }
      members.set(connectionId, member)
      adapter.join(room, member)
    },
    leave(room, connectionId) {
      const members = host.local.get(room)
      const member = members?.get(connectionId)
      if (!members || !member) return
      members.delete(connectionId)
      adapter.leave(room, member)
      if (members.size === 0) {
        host.local.delete(room)
        adapter.unsubscribe(room)
      }
    },
  }
}

async function waitFor(what: string, predicate: () => boolean, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs
  for (let turn = 0; ; turn++) {
    if (predicate()) return
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => (turn < 100 ? setImmediate(resolve) : setTimeout(resolve, 5)))
  }
}

/** Lets anything in flight arrive, so a case can check that something did NOT arrive. */
async function settle(adapters: RoomsAdapter[], waitMs: number): Promise<void> {
  // A members query is a round trip through every node; after it, earlier messages have landed
  // on any transport that keeps order per connection.
  for (const adapter of adapters) await adapter.members('conformance:settle', { timeoutMs: waitMs })
  await new Promise((resolve) => setTimeout(resolve, 20))
}

function ids(members: RoomMember[]): string[] {
  return members.map((m) => `${m.nodeId}/${m.connectionId}`).sort()
}

/** The conformance cases. Each creates its own adapters through `factory` and closes them. */
export function adapterConformance(factory: AdapterFactory): ConformanceCase[] {
  const waitMs = factory.waitMs ?? 5000
  const membersTimeoutMs = factory.membersTimeoutMs ?? 2000

  function withNodes<N extends 2 | 3>(
    count: N,
    body: (nodes: N extends 2 ? [Node, Node] : [Node, Node, Node]) => Promise<void>,
  ): () => Promise<void> {
    return async () => {
      const adapters = await factory.create(count)
      assert.equal(adapters.length, count, `create(${count}) must return ${count} adapters`)
      assert.equal(new Set(adapters.map((a) => a.nodeId)).size, count, 'nodeIds must be unique')
      try {
        await body(adapters.map(node) as Parameters<typeof body>[0])
      } finally {
        for (const adapter of adapters) await adapter.close()
        await factory.cleanup?.()
      }
    }
  }

  const cases: ConformanceCase[] = [
    {
      name: 'a publish reaches each other subscribed node once, bytes and exclude intact, never its own node',
      run: withNodes(3, async ([a, b, c]) => {
        a.join('r', 'a1')
        b.join('r', 'b1')
        c.join('r', 'c1')
        await settle([a.adapter, b.adapter, c.adapter], waitMs)
        const bytes = Buffer.from([0, 1, 2, 0xff, 0x7b, 0x0a])
        a.adapter.publish('r', bytes, { exclude: 'a1' })
        await waitFor(
          'delivery on b and c',
          () => b.host.deliveries.length >= 1 && c.host.deliveries.length >= 1,
          waitMs,
        )
        await settle([a.adapter, b.adapter, c.adapter], waitMs)
        for (const n of [b, c]) {
          assert.equal(n.host.deliveries.length, 1)
          assert.deepEqual(n.host.deliveries[0], { room: 'r', bytes, exclude: 'a1' })
        }
        assert.equal(a.host.deliveries.length, 0, 'the publishing node does not get its own bytes')
      }),
    },
    {
      name: 'a node without local members of a room does not receive its traffic; unsubscribe stops it',
      run: withNodes(2, async ([a, b]) => {
        a.join('r', 'a1')
        a.adapter.publish('r', Buffer.from('x'), {})
        b.join('other', 'b1')
        await settle([a.adapter, b.adapter], waitMs)
        b.join('r', 'b2')
        await settle([a.adapter, b.adapter], waitMs)
        b.leave('r', 'b2')
        await settle([a.adapter, b.adapter], waitMs)
        a.adapter.publish('r', Buffer.from('y'), {})
        await settle([a.adapter, b.adapter], waitMs)
        assert.deepEqual(b.host.deliveries, [])
      }),
    },
    {
      name: 'publishes from one node arrive at another in order (1,000 messages)',
      run: withNodes(2, async ([a, b]) => {
        a.join('r', 'a1')
        b.join('r', 'b1')
        await settle([a.adapter, b.adapter], waitMs)
        for (let i = 0; i < 1000; i++)
          a.adapter.publish('r', Buffer.from(String(i)), { exclude: 'a1' })
        await waitFor('1000 deliveries', () => b.host.deliveries.length >= 1000, waitMs)
        assert.deepEqual(
          b.host.deliveries.map((d) => d.bytes.toString()),
          Array.from({ length: 1000 }, (_, i) => String(i)),
        )
      }),
    },
    {
      name: 'join and leave reach the other nodes with members once each, with the member and its node',
      run: withNodes(2, async ([a, b]) => {
        b.join('r', 'b1')
        await settle([a.adapter, b.adapter], waitMs)
        a.join('r', 'a1', { name: 'ann' })
        await waitFor('remoteJoined on b', () => b.host.joined.length >= 1, waitMs)
        a.leave('r', 'a1')
        await waitFor('remoteLeft on b', () => b.host.left.length >= 1, waitMs)
        await settle([a.adapter, b.adapter], waitMs)
        assert.equal(b.host.joined.length, 1)
        assert.equal(b.host.left.length, 1)
        for (const { room, member } of [...b.host.joined, ...b.host.left]) {
          assert.equal(room, 'r')
          assert.equal(member.connectionId, 'a1')
          assert.equal(member.nodeId, a.adapter.nodeId)
        }
        assert.deepEqual(b.host.joined[0]?.member.metadata, { name: 'ann' })
        assert.equal(a.host.joined.length + a.host.left.length, 0, 'no echo to the origin node')
      }),
    },
    {
      name: 'members() lists every node, complete, and forgets members that left',
      run: withNodes(3, async ([a, b, c]) => {
        a.join('r', 'a1')
        a.join('r', 'a2')
        b.join('r', 'b1')
        c.join('elsewhere', 'c1')
        const expected = [
          `${a.adapter.nodeId}/a1`,
          `${a.adapter.nodeId}/a2`,
          `${b.adapter.nodeId}/b1`,
        ].sort()
        let result = await c.adapter.members('r', { timeoutMs: membersTimeoutMs })
        for (let i = 0; i < 50 && ids(result.members).join() !== expected.join(); i++) {
          await new Promise((resolve) => setTimeout(resolve, 20))
          result = await c.adapter.members('r', { timeoutMs: membersTimeoutMs })
        }
        assert.deepEqual(ids(result.members), expected)
        assert.equal(result.complete, true)
        a.leave('r', 'a2')
        await settle([a.adapter, b.adapter, c.adapter], waitMs)
        result = await b.adapter.members('r', { timeoutMs: membersTimeoutMs })
        assert.deepEqual(
          ids(result.members),
          [`${a.adapter.nodeId}/a1`, `${b.adapter.nodeId}/b1`].sort(),
        )
        const none = await a.adapter.members('nobody-here', { timeoutMs: membersTimeoutMs })
        assert.deepEqual(none.members, [])
      }),
    },
    {
      name: 'close() says goodbye: other nodes get remoteLeft for its members, and they leave members()',
      run: withNodes(2, async ([a, b]) => {
        a.join('r', 'a1')
        a.join('s', 'a1')
        b.join('r', 'b1')
        b.join('s', 'b1')
        await settle([a.adapter, b.adapter], waitMs)
        await a.adapter.close()
        await waitFor('remoteLeft for a1 in r and s', () => b.host.left.length >= 2, waitMs)
        assert.deepEqual(b.host.left.map((l) => `${l.room}/${l.member.connectionId}`).sort(), [
          'r/a1',
          's/a1',
        ])
        const result = await b.adapter.members('r', { timeoutMs: membersTimeoutMs })
        assert.deepEqual(ids(result.members), [`${b.adapter.nodeId}/b1`])
      }),
    },
    {
      name: 'a closed adapter calls nothing on its host',
      run: withNodes(2, async ([a, b]) => {
        a.join('r', 'a1')
        b.join('r', 'b1')
        await settle([a.adapter, b.adapter], waitMs)
        await a.adapter.close()
        const before = a.host.deliveries.length + a.host.joined.length + a.host.left.length
        b.adapter.publish('r', Buffer.from('late'), {})
        b.join('r', 'b2')
        await settle([b.adapter], waitMs)
        assert.equal(a.host.deliveries.length + a.host.joined.length + a.host.left.length, before)
      }),
    },
  ]
  return cases
}
