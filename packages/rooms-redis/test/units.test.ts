// The adapter's parts on their own, without Redis: the batcher, in-flight tracking, members
// queries and the reaper's parsing. The adapter as a whole is tested against a real Redis.
import type { Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { memberField } from '../src/channels.ts'
import { RecordType } from '../src/constants.ts'
import {
  decodeEnvelope,
  encodeMembersReply,
  encodeNodeHeader,
  type RoomEnvelope,
} from '../src/envelope.ts'
import { InFlight } from '../src/in-flight.ts'
import { parseReaped } from '../src/liveness.ts'
import { encodeMemberInfo } from '../src/member-info.ts'
import { MembersQueries } from '../src/members-query.ts'
import { RoomBatcher } from '../src/room-batcher.ts'

const header = encodeNodeHeader('node-a')
const connection = (status: string) => ({ status }) as unknown as Redis

/** A promise with its settling functions outside. */
function deferred<T>() {
  let resolve: (value: T) => void = () => {}
  let reject: (error: Error) => void = () => {}
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('RoomBatcher', () => {
  function batcher(status = 'ready') {
    const sent: { room: string; envelope: RoomEnvelope; answer: ReturnType<typeof deferred> }[] = []
    let dropped = 0
    const errors: Error[] = []
    const b = new RoomBatcher({
      pub: connection(status),
      header,
      publish: (room, bytes) => {
        const answer = deferred<unknown>()
        sent.push({ room, envelope: decodeEnvelope(bytes) as RoomEnvelope, answer })
        return answer.promise
      },
      dropped: (records) => {
        dropped += records
      },
      report: (error) => errors.push(error),
    })
    return { b, sent, errors, dropped: () => dropped }
  }
  const message = (text: string) => ({
    type: RecordType.MESSAGE,
    connection: undefined,
    payload: Buffer.from(text),
  })

  it("gathers a turn's records into one envelope per room, in order", () => {
    const { b, sent } = batcher()
    b.add('r1', message('a'))
    b.add('r2', message('b'))
    b.add('r1', message('c'))
    b.flush()
    expect(sent.map((s) => s.room)).toEqual(['r1', 'r2'])
    expect(sent[0]?.envelope.records.map((r) => String(r.payload))).toEqual(['a', 'c'])
  })

  it('holds new records while an envelope is unanswered, and sends them when it is answered', async () => {
    vi.useFakeTimers()
    const { b, sent } = batcher()
    b.add('r', message('1'))
    vi.runAllTimers()
    expect(sent).toHaveLength(1)
    b.add('r', message('2'))
    b.add('r', message('3'))
    vi.runAllTimers()
    expect(sent).toHaveLength(1)
    sent[0]?.answer.resolve(1)
    await vi.runAllTimersAsync()
    expect(sent).toHaveLength(2)
    expect(sent[1]?.envelope.records.map((r) => String(r.payload))).toEqual(['2', '3'])
  })

  it('a closed connection releases what waited on its unanswered envelopes', async () => {
    vi.useFakeTimers()
    const { b, sent } = batcher()
    b.add('r', message('1'))
    vi.runAllTimers()
    b.add('r', message('2'))
    b.connectionClosed()
    await vi.runAllTimersAsync()
    expect(sent).toHaveLength(2)
  })

  it('a room past 256 KiB of records goes out at once', () => {
    const { b, sent } = batcher()
    b.add('r', { ...message(''), payload: Buffer.alloc(256 * 1024) })
    expect(sent).toHaveLength(1)
  })

  it('counts records as dropped when the connection is not ready, or the publish fails', async () => {
    const down = batcher('reconnecting')
    down.b.add('r', message('x'))
    down.b.flush()
    expect(down.sent).toHaveLength(0)
    expect(down.dropped()).toBe(1)

    const up = batcher()
    up.b.add('r', message('x'))
    up.b.add('r', message('y'))
    up.b.flush()
    up.sent[0]?.answer.reject(new Error('gone'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(up.dropped()).toBe(2)
  })
})

describe('InFlight', () => {
  it('settled() waits for what was tracked, and not for a connection that closed', async () => {
    const inFlight = new InFlight()
    const a = connection('ready')
    const b = connection('ready')
    const first = deferred<number>()
    const never = deferred<number>()
    void inFlight.track(a, first.promise)
    void inFlight.track(b, never.promise)
    let settled = false
    const done = inFlight.settled().then(() => {
      settled = true
    })
    first.resolve(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(false)
    inFlight.forget(b)
    await done
    expect(settled).toBe(true)
  })

  it('a rejected operation is settled too, and track() returns it unchanged', async () => {
    const inFlight = new InFlight()
    const failing = Promise.reject(new Error('no'))
    await expect(inFlight.track(connection('ready'), failing)).rejects.toThrow('no')
    await inFlight.settled()
  })
})

describe('MembersQueries', () => {
  function queries() {
    const published: { channel: string; receivers: ReturnType<typeof deferred<number>> }[] = []
    const counts = { malformed: 0, incomplete: 0 }
    const q = new MembersQueries({
      header,
      requestsChannel: 'requests',
      replyChannel: (nodeId) => `reply:${nodeId}`,
      publish: (channel) => {
        const receivers = deferred<number>()
        published.push({ channel, receivers })
        return receivers.promise
      },
      report: () => {},
      malformed: () => counts.malformed++,
      incomplete: () => counts.incomplete++,
    })
    return { q, published, counts }
  }
  const reply = (nodeId: string, requestId: number, connectionId: string) => {
    const info = encodeMemberInfo(nodeId, { connectionId, metadata: null, joinedAt: 1 })
    return decodeEnvelope(
      encodeMembersReply(encodeNodeHeader(nodeId), requestId, [{ connectionId, info }]),
    )
  }

  it('completes once every other node that got the request has replied', async () => {
    const { q, published } = queries()
    const result = q.ask('room', [], 10_000)
    expect(published[0]?.channel).toBe('requests')
    published[0]?.receivers.resolve(3) // this node and two others
    await Promise.resolve()
    q.onReply(reply('node-b', 1, 'b1') as never)
    q.onReply(reply('node-b', 1, 'b1') as never) // a duplicate reply counts once
    q.onReply(reply('node-c', 1, 'c1') as never)
    await expect(result).resolves.toMatchObject({
      complete: true,
      members: [{ connectionId: 'b1' }, { connectionId: 'c1' }],
    })
  })

  it('a node that never replies makes the answer incomplete at the timeout', async () => {
    vi.useFakeTimers()
    const { q, published, counts } = queries()
    const result = q.ask('room', [], 500)
    published[0]?.receivers.resolve(2)
    await vi.advanceTimersByTimeAsync(500)
    await expect(result).resolves.toEqual({ members: [], complete: false })
    expect(counts.incomplete).toBe(1)
  })

  it('finishAll() answers every pending query as incomplete', async () => {
    const { q } = queries()
    const result = q.ask('room', [], 10_000)
    q.finishAll()
    await expect(result).resolves.toEqual({ members: [], complete: false })
  })
})

describe('parseReaped', () => {
  it("splits REAP_SCRIPT's answer into nodes and members, leaving out fields of another shape", () => {
    const info = encodeMemberInfo('dead', { connectionId: 'c:1', metadata: null, joinedAt: 1 })
    const reaped = [
      'dead',
      [memberField('room:x', 'c:1'), String(info), 'no-colon', 'x'],
      'empty',
      [],
    ]
    expect(parseReaped(reaped)).toEqual([
      { nodeId: 'dead', members: [{ room: 'room:x', connection: 'c:1', info }] },
      { nodeId: 'empty', members: [] },
    ])
  })
})
