// The adapter's parts on their own, without Redis: the batcher, in-flight tracking, members
// queries, the reaper's parsing, and durable mode's outbox, dedupe window and stream replies. The adapter as a whole is tested against a real Redis.
import type { Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { memberField } from '../src/channels.ts'
import { RecordType } from '../src/constants.ts'
import { Dedupe } from '../src/dedupe.ts'
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
import { Outbox } from '../src/outbox.ts'
import { RoomBatcher } from '../src/room-batcher.ts'
import { compareIds, streamEntries } from '../src/stream-transport.ts'

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
      canSend: () => status === 'ready',
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

describe('Outbox', () => {
  function outbox(maxBytes = 100, maxAgeMs = 1000) {
    let now = 0
    const drops: [number, number][] = []
    const box = new Outbox({
      maxBytes,
      maxAgeMs,
      now: () => now,
      dropped: (entries, records) => drops.push([entries, records]),
    })
    return { box, drops, tick: (ms: number) => (now += ms) }
  }
  const bytes = (n: number) => Buffer.alloc(n)
  const seqs = (entries: { seq: number }[]) => entries.map((e) => e.seq)

  it('numbers envelopes 1, 2, 3 and hands each out once per connection, in order', () => {
    const { box } = outbox()
    box.push(bytes(10), 1)
    box.push(bytes(10), 2)
    expect(seqs(box.take())).toEqual([1, 2])
    box.push(bytes(10), 1)
    expect(seqs(box.take())).toEqual([3])
    expect(box.take()).toEqual([])
    expect(box.unacked).toBe(3)
    box.acked(2)
    expect(box.unacked).toBe(1)
  })

  it('after a reconnect, writes again from the first unacknowledged; after a lost stream, from the oldest kept', () => {
    const { box } = outbox()
    for (let i = 0; i < 4; i++) box.push(bytes(10), 1)
    for (const entry of box.take()) entry.written = true
    box.acked(2)
    expect(box.rewind(false)).toBe(2)
    expect(seqs(box.take())).toEqual([3, 4])
    expect(box.rewind(true)).toBe(4)
    expect(box.unacked).toBe(4)
    expect(seqs(box.take())).toEqual([1, 2, 3, 4])
  })

  it('over maxBytes, lets the oldest go: acknowledged ones uncounted, unacknowledged ones counted as dropped', () => {
    const { box, drops } = outbox(30)
    box.push(bytes(10), 1)
    box.take()
    box.acked(1)
    box.push(bytes(10), 2)
    box.push(bytes(10), 3)
    expect(drops).toEqual([])
    box.push(bytes(10), 4) // 40 bytes: the acknowledged #1 goes, uncounted
    expect(drops).toEqual([])
    box.push(bytes(15), 5) // 45 bytes: #2 (2 records) and #3 (3 records) go, counted
    expect(drops).toEqual([[2, 5]])
    expect(seqs(box.take())).toEqual([4, 5])
    expect(box.bytes).toBe(25)
  })

  it('lets envelopes older than maxAgeMs go, counted when unacknowledged', () => {
    const { box, drops, tick } = outbox(1000, 100)
    box.push(bytes(1), 1)
    tick(60)
    box.push(bytes(1), 1)
    tick(60)
    expect(seqs(box.take())).toEqual([2])
    expect(drops).toEqual([[1, 1]])
    expect(box.unacked).toBe(1)
  })

  it('stays bounded under a long run of pushes and acknowledgements', () => {
    const { box } = outbox(1000)
    for (let i = 1; i <= 10_000; i++) {
      box.push(bytes(10), 1)
      box.take()
      box.acked(i)
    }
    expect(box.bytes).toBeLessThanOrEqual(1000)
    expect(box.unacked).toBe(0)
  })
})

describe('Dedupe', () => {
  it('delivers each sequence number of a sender once, in order, and counts the gaps', () => {
    const d = new Dedupe(10)
    expect(d.check('a', 5)).toEqual({ duplicate: false, missed: 0 })
    expect(d.check('a', 6)).toEqual({ duplicate: false, missed: 0 })
    expect(d.check('a', 6)).toEqual({ duplicate: true })
    expect(d.check('a', 3)).toEqual({ duplicate: true })
    expect(d.check('a', 9)).toEqual({ duplicate: false, missed: 2 })
    expect(d.check('b', 1)).toEqual({ duplicate: false, missed: 0 })
  })

  it('remembers at most maxSenders, forgetting the least recently heard', () => {
    const d = new Dedupe(2)
    d.check('a', 1)
    d.check('b', 1)
    d.check('a', 2) // a heard again: b is now the oldest
    d.check('c', 1)
    expect(d.size).toBe(2)
    expect(d.check('a', 2)).toEqual({ duplicate: true })
    expect(d.check('b', 1)).toEqual({ duplicate: false, missed: 0 }) // forgotten
  })
})

describe('stream replies', () => {
  it('orders stream ids by time, then sequence', () => {
    expect(compareIds('5-0', '5-0')).toBe(0)
    expect(compareIds('5-1', '5-10')).toBe(-1)
    expect(compareIds('10-0', '9-99')).toBe(1)
    expect(compareIds('0-0', '1700000000000-0')).toBe(-1)
  })

  it('reads the entries of an XREAD reply in RESP2 and RESP3 shapes, and a timeout', () => {
    const entry = [Buffer.from('1-0'), [Buffer.from('n'), Buffer.from('x')]]
    expect(streamEntries([[Buffer.from('k'), [entry]]])).toEqual([entry])
    expect(streamEntries([Buffer.from('k'), [entry]])).toEqual([entry])
    expect(streamEntries(null)).toEqual([])
  })
})
