// A stream's send side on its own: the credit the peer granted, the queue of the write in
// progress, the frames it writes through the callback it was given, and the session's
// round-robin over streams. No session, no socket.
import { describe, expect, it } from 'vitest'
import { SendScheduler } from '../src/scheduler.ts'
import { SendQueue } from '../src/send-queue.ts'
import { MuxStream, type StreamOwner } from '../src/stream.ts'
import { parseFrames } from './helpers.ts'

function recorder() {
  const writes: Buffer[] = []
  return { writes, send: (b: Buffer) => void writes.push(b), bytes: () => Buffer.concat(writes) }
}

const bytes = (n: number, from = 0) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff))

describe('SendQueue', () => {
  it('sends no more than the credit, and the rest once credit is granted', () => {
    const r = recorder()
    const q = new SendQueue(7, 3000, r.send)
    let done = 0
    q.enqueue([bytes(5000)], 5000, () => done++)
    expect(q.sendable).toBe(3000)
    q.send(3000)
    expect(q.sendable).toBe(0)
    expect(q.sent).toBe(3000)
    expect(q.queued).toBe(2000)
    expect(done).toBe(0)
    expect(q.grant(2500)).toBe(false) // lower than the limit: ignored
    expect(q.grant(4000)).toBe(true) // was blocked with bytes queued
    expect(q.sendable).toBe(1000)
    q.send(1000)
    expect(q.grant(10_000)).toBe(true)
    q.send(1000)
    expect(done).toBe(1)
    expect(q.queued).toBe(0)
    const got = parseFrames(r.bytes())
    expect(got.map((f) => f.streamId)).toEqual([7, 7, 7])
    expect(got.map((f) => f.payload.length)).toEqual([3000, 1000, 1000])
    expect(Buffer.concat(got.map((f) => f.payload))).toEqual(bytes(5000))
  })

  it('grant reports unblocking only when bytes wait for it', () => {
    const q = new SendQueue(1, 100, () => {})
    expect(q.grant(200)).toBe(false) // nothing queued
    q.enqueue([bytes(50)], 50, () => {})
    expect(q.grant(300)).toBe(false) // had credit already
  })

  it('copies small payloads next to their header and sends large ones as views', () => {
    const r = recorder()
    const q = new SendQueue(3, 1 << 20, r.send)
    const a = bytes(600)
    const b = bytes(600, 600)
    q.enqueue([a, b], 1200, () => {})
    q.send(1000) // small: one buffer, header and payload copied across both chunks
    expect(r.writes.length).toBe(1)
    expect(r.writes[0]?.length).toBe(1008)
    q.send(200)
    expect(r.writes.length).toBe(2)
    const big = bytes(70_000)
    q.enqueue([big], big.length, () => {})
    q.send(65_536) // large: header, then a view of the written chunk (no copy)
    expect(r.writes.length).toBe(4)
    expect(r.writes[2]?.length).toBe(8)
    expect(r.writes[3]?.buffer).toBe(big.buffer)
    q.send(70_000 - 65_536)
    const got = parseFrames(r.bytes())
    expect(Buffer.concat(got.map((f) => f.payload))).toEqual(Buffer.concat([a, b, big]))
  })

  it('runs the write callback once, when its last byte is framed; empty writes at once', () => {
    const q = new SendQueue(1, 1 << 20, () => {})
    const calls: string[] = []
    q.enqueue([], 0, () => calls.push('empty'))
    expect(calls).toEqual(['empty'])
    q.enqueue([bytes(10), bytes(10)], 20, () => calls.push('full'))
    q.send(15)
    expect(calls).toEqual(['empty'])
    q.send(5)
    expect(calls).toEqual(['empty', 'full'])
  })

  it('clear drops the queue and hands back the pending callback', () => {
    const q = new SendQueue(1, 1 << 20, () => {})
    let error: unknown
    q.enqueue([bytes(100)], 100, (e) => {
      error = e
    })
    q.send(40)
    const pending = q.clear()
    expect(q.queued).toBe(0)
    expect(q.sendable).toBe(0)
    pending?.(new Error('gone'))
    expect((error as Error).message).toBe('gone')
    expect(q.clear()).toBeUndefined()
  })

  it('setLimit can lower the limit (a late hello after no flow control)', () => {
    const q = new SendQueue(1, Number.POSITIVE_INFINITY, () => {})
    q.enqueue([bytes(100)], 100, () => {})
    q.send(60)
    q.setLimit(50)
    expect(q.sendable).toBe(0)
    expect(q.grant(80)).toBe(true)
    expect(q.sendable).toBe(20)
  })
})

/** A stream with no session: what it asks of its owner is recorded. */
function lone(id: number, sendLimit: number, sendFrame: (b: Buffer) => void) {
  const scheduled: number[] = []
  const owner: StreamOwner = {
    schedule: (s) => void scheduled.push(s.id),
    sendFin: () => {},
    sendReset: () => {},
    onRead: () => {},
    onFull: () => {},
    detach: () => {},
    writeError: () => undefined,
  }
  const stream = new MuxStream({
    info: { id, type: 't', metadata: {} },
    local: true,
    owner,
    sendFrame,
    sendLimit,
    initialWindow: 1 << 16,
    maxWindow: 1 << 20,
    highWaterMark: 1 << 16,
  })
  return { stream, scheduled }
}

describe('MuxStream send side', () => {
  it('asks to be scheduled when it has bytes and credit, and again when credit unblocks it', () => {
    const r = recorder()
    const { stream, scheduled } = lone(5, 1000, r.send)
    let written = false
    stream.write(bytes(3000), () => {
      written = true
    })
    expect(scheduled).toEqual([5])
    expect(stream.sendable).toBe(1000)
    stream.sendFrame(1000)
    expect(stream.sendable).toBe(0)
    stream.grant(900) // not above the limit: nothing
    expect(scheduled).toEqual([5])
    stream.grant(5000)
    expect(scheduled).toEqual([5, 5])
    stream.sendFrame(2000)
    expect(stream.queued).toBe(0)
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(written).toBe(true)
        expect(parseFrames(r.bytes()).map((f) => [f.streamId, f.payload.length])).toEqual([
          [5, 1000],
          [5, 2000],
        ])
        stream.destroy()
        resolve()
      }),
    )
  })

  it('fails the write in progress when destroyed', async () => {
    const { stream } = lone(1, 10, () => {})
    const result = new Promise<unknown>((resolve) => stream.write(bytes(100), resolve))
    stream.sendFrame(10)
    stream.destroy()
    expect(await result).toBeInstanceOf(Error)
  })
})

describe('SendScheduler', () => {
  it('takes one frame per stream per turn, round-robin, within the session credit', () => {
    const r = recorder()
    const sched = new SendScheduler(10_000, 1000, () => false)
    const a = lone(1, 1 << 20, r.send).stream
    const b = lone(3, 1 << 20, r.send).stream
    a.write(bytes(2500))
    b.write(bytes(1500))
    sched.add(a)
    sched.add(b)
    sched.add(a) // once only
    sched.run()
    const got = parseFrames(r.bytes()).map((f) => [f.streamId, f.payload.length])
    expect(got).toEqual([
      [1, 1000],
      [3, 1000],
      [1, 1000],
      [3, 500],
      [1, 500],
    ])
    expect(sched.sent).toBe(4000)
    expect(sched.pending).toBe(false)
    a.destroy()
    b.destroy()
  })

  it('stops at the session credit and goes on when it is granted', () => {
    const r = recorder()
    const sched = new SendScheduler(1500, 1000, () => false)
    const a = lone(1, 1 << 20, r.send).stream
    a.write(bytes(4000))
    sched.add(a)
    sched.run()
    expect(sched.sent).toBe(1500)
    expect(sched.pending).toBe(true)
    expect(sched.grant(1000)).toBe(false)
    expect(sched.grant(5000)).toBe(true)
    sched.run()
    expect(sched.sent).toBe(4000)
    expect(Buffer.concat(parseFrames(r.bytes()).map((f) => f.payload))).toEqual(bytes(4000))
    a.destroy()
  })

  it('stops when the socket is full, and skips streams destroyed while waiting', () => {
    const r = recorder()
    let full = false
    const sched = new SendScheduler(1 << 20, 1000, () => full)
    const a = lone(1, 1 << 20, r.send).stream
    const b = lone(3, 1 << 20, r.send).stream
    a.write(bytes(3000))
    b.write(bytes(3000))
    sched.add(a)
    sched.add(b)
    full = true
    sched.run()
    expect(r.writes.length).toBe(0)
    b.destroy()
    full = false
    sched.run()
    expect(parseFrames(r.bytes()).every((f) => f.streamId === 1)).toBe(true)
    expect(sched.sent).toBe(3000)
    a.destroy()
  })
})
