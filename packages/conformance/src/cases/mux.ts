import { showValue } from '../describe.ts'
import { fail } from '../errors.ts'
import {
  type Control,
  closeStream,
  compactUpdate,
  control,
  create,
  hello,
  MuxClient,
  muxFrame,
  reset,
  windowUpdate,
} from '../mux-wire.ts'
import { sleep } from '../peer.ts'
import type { Case, CaseContext } from '../types.ts'
import { cases } from './define.ts'

/**
 * mux, `u32 stream id | u32 length` then the payload, JSON control on stream 0, as the demo's
 * binary port speaks it after its upgrade: the server is the acceptor and serves `echo`
 * streams (what comes in goes back, and it ends when we end).
 */

const WIRE = 'mux README, Wire format'
const CONTROL = 'mux README, Control messages (stream 0)'
const IDS = 'mux README, Stream ids'
const STATES = 'mux README, Stream states'
const FLOW = 'mux README, Flow control'
const LEGACY = 'mux README, Legacy peers (written from the verb docs)'
const OPTIONS = 'mux README, Options'

const bytes = (n: number, seed = 1) =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

/** Opens a session with our hello and waits for the server's. */
async function session(t: CaseContext, options?: Parameters<typeof hello>[0]): Promise<MuxClient> {
  const c = await MuxClient.open(t, hello(options))
  await c.serverHello()
  return c
}

let barrier = 1000
/**
 * Opens an echo stream on its own, before its data: a server may refuse a stream whose open
 * arrives with a turn's worth of data (REFUSED_STREAM, "safe to retry"), so the open goes
 * first and a ping round trip makes sure it was taken. A legacy peer cannot ping: it waits.
 */
async function open(c: MuxClient, first: number, legacy = false): Promise<number> {
  let refused: Control | undefined
  for (let id = first; id < first + 20; id += 2) {
    await c.send(create(id))
    if (legacy) await sleep(30)
    else await c.ping(barrier++, `stream_create ${id}`)
    refused = c.control((m) => m.type === 'stream_reset' && m.streamId === id)
    if (!refused) return id
    if (refused.code !== 7) break
    await sleep(20) // refused, safe to retry: on the next id
  }
  fail(
    `stream_create ${first} (type echo)`,
    'an echo stream (after retries of refused ones)',
    showValue(refused),
  )
}

/** A fresh session still answers a ping. */
async function stillServed(t: CaseContext, after: string): Promise<void> {
  const c = await session(t)
  await c
    .ping(7)
    .catch((error: Error) =>
      fail(after, 'other sessions still served (ping answered)', error.message),
    )
}

/** Data frames of at most 16 KiB (the smallest frame size any peer accepts). */
function data(id: number, payload: Buffer): Buffer {
  const parts: Buffer[] = []
  for (let at = 0; at < payload.length; at += 16384)
    parts.push(muxFrame(id, payload.subarray(at, at + 16384)))
  return Buffer.concat(parts)
}

/** The credit the server has given us on `id` (0: the session): its hello, then its updates. */
function creditFrom(c: MuxClient, id: number): number {
  const h = c.state.hello as Control
  let limit = id === 0 ? h.sessionWindow : h.initialWindow
  for (const m of c.state.controls)
    if (m.type === 'window_update' && m.streamId === id) limit = Math.max(limit, m.limit)
  for (const [sid, l] of c.state.compact) if (sid === id) limit = Math.max(limit, l)
  return limit
}

const protocolError = (
  id: string,
  title: string,
  section: string,
  build: () => Buffer,
  code = 1,
  expectText?: string,
): Case => ({
  id,
  title,
  section,
  expect:
    expectText ??
    `goaway with code ${code}, then closes the connection; other sessions still served`,
  run: async (t) => {
    const c = await session(t)
    const b = build()
    await c.send(b)
    await c.expectGoAway(code, title)
    await stillServed(t, title)
  },
})

export const muxCases: readonly Case[] = cases('mux', [
  // 1. Frames and sessions
  {
    id: '1.1',
    title: 'a session opens: our hello',
    section: CONTROL,
    expect:
      "the server's first frame is a hello: version 1, windows and maxFrameSize ≥ 16384, maxStreams ≥ 1, features a list",
    run: async (t) => {
      const c = await MuxClient.open(t)
      const h = await c.serverHello()
      const ok =
        h.version === 1 &&
        Number.isInteger(h.initialWindow) &&
        h.initialWindow >= 16384 &&
        Number.isInteger(h.sessionWindow) &&
        h.sessionWindow >= 16384 &&
        Number.isInteger(h.maxFrameSize) &&
        h.maxFrameSize >= 16384 &&
        Number.isInteger(h.maxStreams) &&
        h.maxStreams >= 1 &&
        Array.isArray(h.features)
      if (!ok)
        fail(
          'our hello',
          'a hello with version 1, windows and maxFrameSize ≥ 16384, maxStreams ≥ 1, features',
          showValue(h),
        )
    },
  },
  {
    id: '1.2',
    title: 'an echo stream: stream_create, 5 bytes, stream_close',
    section: WIRE,
    expect: "the 5 bytes come back on the same stream id, then the server's stream_close",
    run: async (t) => {
      const c = await session(t)
      await c.send(Buffer.concat([create(1), muxFrame(1, 'hello'), closeStream(1)]))
      await c.expectEcho(1, Buffer.from('hello'), 'stream 1: "hello" and stream_close')
    },
  },
  {
    id: '1.3',
    title: 'hello, stream_create, data and stream_close cut into one-byte reads',
    section: WIRE,
    expect: 'reassembles every frame: the data is echoed and the stream closed',
    run: async (t) => {
      const c = await MuxClient.open(t, null)
      const all = Buffer.concat([hello(), create(1), muxFrame(1, 'split'), closeStream(1)])
      await c.peer.writeSplit(
        all,
        Array.from({ length: all.length - 1 }, (_, i) => i + 1),
        1,
      )
      await c.expectEcho(1, Buffer.from('split'), 'a session cut into one-byte reads')
    },
  },
  {
    id: '1.4',
    title: '50 streams opened, written and closed in one write',
    section: WIRE,
    expect: 'every stream echoed on its own id and closed',
    run: async (t) => {
      const c = await session(t)
      const parts: Buffer[] = []
      for (let i = 0; i < 50; i++)
        parts.push(create(2 * i + 1), muxFrame(2 * i + 1, `s${i}`), closeStream(2 * i + 1))
      await c.send(Buffer.concat(parts))
      for (let i = 0; i < 50; i++)
        await c.expectEcho(2 * i + 1, Buffer.from(`s${i}`), '50 streams in one write')
    },
  },
  {
    id: '1.5',
    title: 'a control message of an unknown type, then a ping',
    section: CONTROL,
    expect: 'ignores it (forward compatibility) and answers the ping',
    run: async (t) => {
      const c = await session(t)
      await c.send(control({ type: 'x-future-extension', streamId: 1, anything: [1, 2] }))
      await c.ping(11, 'an unknown control type, then ping 11')
    },
  },
  // 2. Stream ids
  protocolError('2.1', 'stream_create with an even id from the dialler', IDS, () => create(2)),
  protocolError('2.2', 'stream ids not increasing (5, then 3)', IDS, () =>
    Buffer.concat([create(5), create(3)]),
  ),
  protocolError('2.3', 'a stream id reused after its stream closed', IDS, () =>
    Buffer.concat([create(1), closeStream(1), create(1)]),
  ),
  protocolError('2.4', 'data on a stream id never opened', IDS, () => muxFrame(9, 'orphan')),
  protocolError('2.5', 'stream_create with the reserved id 0xFFFFFFFF', IDS, () =>
    create(0xffffffff),
  ),
  // 3. Flow control
  {
    id: '3.1',
    title: 'our hello grants 16 KiB per stream; we send 64 KiB on an echo stream',
    section: FLOW,
    expect:
      'never sends more than 16384 bytes on the stream before our window_update; after it, the rest',
    run: async (t) => {
      const c = await session(t, { initialWindow: 16384 })
      const payload = bytes(65536)
      await open(c, 1)
      await c.send(data(1, payload))
      const sent = '64 KiB on a stream whose window is 16 KiB'
      await c.expect((s) => ((s.bytes.get(1) ?? 0) > 0 ? true : undefined), sent, 'echoed data')
      await c.wait(() => undefined, sent, Math.min(300, t.timeout))
      if (c.bytesOf(1) > 16384)
        fail(sent, 'at most 16384 bytes before a window_update', `${c.bytesOf(1)} bytes`)
      await c.send(windowUpdate(1, 65536))
      await c.expect(
        (s) => ((s.bytes.get(1) ?? 0) >= 65536 ? true : undefined),
        `${sent}, then window_update 65536`,
        'all 65536 bytes',
      )
      if (c.bytesOf(1) > 65536) fail(sent, 'at most 65536 bytes', `${c.bytesOf(1)}`)
    },
  },
  {
    id: '3.2',
    title: 'our hello grants 16 KiB for the whole session; two streams send 16 KiB each',
    section: FLOW,
    expect:
      'never sends more than 16384 bytes in all before a session window_update; after it, the rest',
    run: async (t) => {
      const c = await session(t, { sessionWindow: 16384 })
      await open(c, 1)
      await open(c, 3)
      await c.send(Buffer.concat([data(1, bytes(16384, 1)), data(3, bytes(16384, 3))]))
      const sent = '2 × 16 KiB on a session whose window is 16 KiB'
      const total = () => c.bytesOf(1) + c.bytesOf(3)
      await c.expect(() => (total() > 0 ? true : undefined), sent, 'echoed data')
      await c.wait(() => undefined, sent, Math.min(300, t.timeout))
      if (total() > 16384)
        fail(sent, 'at most 16384 bytes in all before a window_update', `${total()} bytes`)
      await c.send(windowUpdate(0, 32768))
      await c.expect(
        () => (total() >= 32768 ? true : undefined),
        `${sent}, then a session window_update`,
        'all 32768 bytes',
      )
    },
  },
  {
    id: '3.3',
    title: 'credit given by compact window-update records (both hellos list "compact-window")',
    section: 'mux README, Compact window updates (stream 0xFFFFFFFF)',
    expect: 'honours the records: the data held back by our 16 KiB window follows',
    run: async (t) => {
      const c = await session(t, { initialWindow: 16384, features: ['compact-window'] })
      if (!(c.state.hello?.features ?? []).includes('compact-window'))
        t.skip('the server does not offer compact-window')
      await open(c, 1)
      await c.send(data(1, bytes(32768)))
      const sent = '32 KiB on a 16 KiB window, then a compact record for 32768'
      await c.expect(
        (s) => ((s.bytes.get(1) ?? 0) >= 16384 ? true : undefined),
        sent,
        'the first 16384 bytes',
      )
      await c.send(compactUpdate([[1, 32768]]))
      await c.expect(
        (s) => ((s.bytes.get(1) ?? 0) >= 32768 ? true : undefined),
        sent,
        'all 32768 bytes',
      )
    },
  },
  {
    id: '3.4',
    title: 'we send one byte past the credit the server gave us',
    section: FLOW,
    expect: 'goaway with code 3 (FLOW_CONTROL_ERROR), then closes',
    exclusive: true,
    run: async (t) => {
      // A small window of ours stalls the echo, so the server's stream stops reading and its
      // credit stops growing; then we spend it all, and one byte more.
      const c = await session(t, { initialWindow: 16384 })
      await open(c, 1)
      const frame = 16384
      let spent = 0
      for (let round = 0; round < 1000; round++) {
        const limit = Math.min(creditFrom(c, 1), creditFrom(c, 0))
        if (spent < limit) {
          const n = Math.min(frame, limit - spent)
          await c.send(muxFrame(1, Buffer.alloc(n, 0x61)))
          spent += n
          continue
        }
        const before = limit
        await c.wait(() => undefined, 'filling the credit', 200)
        if (Math.min(creditFrom(c, 1), creditFrom(c, 0)) === before) break
      }
      const sent = `${spent} bytes (all the credit given), then 1 byte more`
      await c.send(muxFrame(1, 'x'))
      await c.expectGoAway(3, sent)
    },
  },
  // 4. Limits
  {
    id: '4.1',
    title: "opening one stream more than the server's maxStreams",
    section: OPTIONS,
    expect:
      'refuses the extra stream(s) with stream_reset code 7 (REFUSED_STREAM), keeps at most maxStreams, and the session lives',
    exclusive: true,
    run: async (t) => {
      const c = await session(t)
      const max = c.state.hello?.maxStreams as number
      if (max > 5000) t.skip(`maxStreams is ${max}: too many streams to open in a test`)
      const n = max + 1
      const parts: Buffer[] = []
      for (let i = 0; i < n; i++) parts.push(create(2 * i + 1))
      await c.send(Buffer.concat(parts))
      const sent = `${n} stream_creates (maxStreams ${max})`
      const refused = () =>
        c.state.controls.filter((m) => m.type === 'stream_reset' && m.code === 7).length
      await c.expect(
        () => (refused() >= 1 ? true : undefined),
        sent,
        'stream_reset code 7 for the extra stream',
      )
      await c.ping(41, sent)
      const others = c.state.controls.filter((m) => m.type === 'stream_reset' && m.code !== 7)
      if (others.length > 0) fail(sent, 'refusals with code 7 only', showValue(others[0]))
      if (n - refused() > max) fail(sent, `at most ${max} streams kept`, `${n - refused()} kept`)
    },
  },
  {
    id: '4.2',
    title: 'a stream of a type the server does not serve',
    section: 'mux README, Reset and go-away codes',
    expect: 'refuses it with stream_reset code 7 (REFUSED_STREAM); the session lives',
    run: async (t) => {
      const c = await session(t)
      await c.send(create(1, 'no-such-stream-type'))
      const sent = 'stream_create of type "no-such-stream-type"'
      const r = await c.expect(
        (s) => s.controls.find((m) => m.type === 'stream_reset' && m.streamId === 1),
        sent,
        'stream_reset of stream 1',
      )
      if (r.code !== 7) fail(sent, 'stream_reset code 7', showValue(r))
      const next = await open(c, 3)
      await c.send(Buffer.concat([muxFrame(next, 'ok'), closeStream(next)]))
      await c.expectEcho(next, Buffer.from('ok'), `${sent}, then an echo stream`)
    },
  },
  {
    id: '4.3',
    title: "a data frame larger than the server's maxFrameSize",
    section: 'mux README, Errors',
    expect: 'goaway with code 6 (FRAME_SIZE_ERROR), then closes',
    run: async (t) => {
      const c = await session(t)
      const max = c.state.hello?.maxFrameSize as number
      const sent = `a ${max + 1}-byte data frame (maxFrameSize ${max})`
      await c.send(Buffer.concat([create(1), muxFrame(1, Buffer.alloc(max + 1))]))
      await c.expectGoAway(6, sent)
    },
  },
  {
    id: '4.4',
    title: 'a 1 MiB control message',
    section: 'mux README, Errors',
    expect: 'goaway with code 6 (FRAME_SIZE_ERROR: over maxControlBytes), then closes',
    run: async (t) => {
      const c = await session(t)
      await c.send(control({ type: 'ping', id: 1, pad: 'x'.repeat(1024 * 1024) }))
      await c.expectGoAway(6, 'a 1 MiB ping')
    },
  },
  // 5. Reset
  {
    id: '5.1',
    title: 'stream_reset mid-transfer, then more data on the reset stream',
    section: STATES,
    expect:
      'stops the stream: the data after the reset is never echoed; other streams and pings still served',
    run: async (t) => {
      const c = await session(t)
      await c.send(Buffer.concat([create(1), muxFrame(1, bytes(1000))]))
      const sent = 'stream 1: 1000 bytes, stream_reset (CANCEL), 1000 bytes more'
      await c.expect(
        (s) => ((s.bytes.get(1) ?? 0) >= 1000 ? true : undefined),
        sent,
        'the first 1000 bytes echoed',
      )
      await c.send(Buffer.concat([reset(1, 8), muxFrame(1, bytes(1000, 9))]))
      await c.ping(51, sent)
      await c.wait(() => undefined, sent, Math.min(200, t.timeout))
      if (c.bytesOf(1) > 1000)
        fail(sent, 'nothing more on stream 1 after the reset', `${c.bytesOf(1) - 1000} bytes more`)
      if (c.control((m) => m.type === 'goaway'))
        fail(sent, 'the session kept', showValue(c.control((m) => m.type === 'goaway')))
      const next = await open(c, 3)
      await c.send(Buffer.concat([muxFrame(next, 'next'), closeStream(next)]))
      await c.expectEcho(next, Buffer.from('next'), `${sent}, then stream ${next}`)
    },
  },
  {
    id: '5.2',
    title: 'data on a stream after our own stream_close',
    section: STATES,
    expect: 'resets that stream with code 5 (STREAM_CLOSED); the session lives',
    run: async (t) => {
      const c = await session(t)
      await c.send(Buffer.concat([create(1), closeStream(1), muxFrame(1, 'late')]))
      const sent = 'stream 1: stream_close, then data'
      const r = await c.expect(
        (s) => s.controls.find((m) => m.type === 'stream_reset' && m.streamId === 1),
        sent,
        'stream_reset of stream 1 with code 5',
      )
      if (r.code !== 5) fail(sent, 'stream_reset code 5', showValue(r))
      await c.ping(52, sent)
    },
  },
  // 6. Half-close
  {
    id: '6.1',
    title: 'half-close by us: 200 KiB then stream_close, the echo still flowing',
    section: STATES,
    expect:
      'keeps sending after our stream_close until all 200 KiB are back, then its own stream_close',
    run: async (t) => {
      const c = await session(t)
      const payload = bytes(200 * 1024)
      await open(c, 1)
      await c.send(Buffer.concat([data(1, payload), closeStream(1)]))
      await c.expectEcho(1, payload, 'stream 1: 200 KiB, stream_close')
    },
  },
  {
    id: '6.2',
    title: 'a stream closed by us before any data',
    section: STATES,
    expect: 'half-closes in turn: its stream_close, no data',
    run: async (t) => {
      const c = await session(t)
      await c.send(Buffer.concat([create(1), closeStream(1)]))
      await c.expectEcho(1, Buffer.alloc(0), 'stream 1: stream_create, stream_close')
    },
  },
  {
    id: '6.3',
    title: 'after both sides closed a stream, a new stream on a higher id',
    section: STATES,
    expect: 'the closed stream is gone and the next one is served',
    run: async (t) => {
      const c = await session(t)
      const one = await open(c, 1)
      await c.send(Buffer.concat([muxFrame(one, 'one'), closeStream(one)]))
      await c.expectEcho(one, Buffer.from('one'), `stream ${one}`)
      const two = await open(c, one + 2)
      await c.send(Buffer.concat([muxFrame(two, 'two'), closeStream(two)]))
      await c.expectEcho(two, Buffer.from('two'), `stream ${two} after stream ${one} closed`)
    },
  },
  // 7. Ping
  {
    id: '7.1',
    title: 'ping with id 7',
    section: CONTROL,
    expect: 'pong with id 7',
    run: async (t) => {
      const c = await session(t)
      await c.ping(7)
    },
  },
  {
    id: '7.2',
    title: 'ping with id 4294967295 (the largest u32)',
    section: CONTROL,
    expect: 'pong with id 4294967295',
    run: async (t) => {
      const c = await session(t)
      await c.ping(0xffffffff)
    },
  },
  {
    id: '7.3',
    title: 'a pong nobody asked for',
    section: CONTROL,
    expect: 'ignores it; the session lives (a ping after it is answered)',
    run: async (t) => {
      const c = await session(t)
      await c.send(control({ type: 'pong', id: 99 }))
      await c.ping(73, 'an unsolicited pong, then ping 73')
    },
  },
  // 8. Go-away and bad control
  {
    id: '8.1',
    title: 'our goaway while a stream is open',
    section: CONTROL,
    expect: 'the open stream is still served to its end',
    run: async (t) => {
      const c = await session(t)
      await c.send(Buffer.concat([create(1), muxFrame(1, 'before')]))
      await c.expect(
        (s) => ((s.bytes.get(1) ?? 0) >= 6 ? true : undefined),
        'stream 1 "before"',
        'the echo',
      )
      await c.send(
        Buffer.concat([
          control({ type: 'goaway', lastStreamId: 0, code: 0, reason: 'done' }),
          muxFrame(1, 'after'),
          closeStream(1),
        ]),
      )
      await c.expectEcho(
        1,
        Buffer.from('beforeafter'),
        'goaway, then "after" and stream_close on stream 1',
      )
    },
  },
  protocolError('8.2', 'a control message that is not JSON', CONTROL, () =>
    muxFrame(0, '{not json'),
  ),
  protocolError('8.3', 'a second hello', CONTROL, () => hello()),
  protocolError('8.4', 'a known control type with bad fields (stream_close of "x")', CONTROL, () =>
    control({ type: 'stream_close', streamId: 'x' }),
  ),
  // 9. Legacy peers
  {
    id: '9.1',
    title: 'a legacy peer (no hello): stream 1, data, stream_close',
    section: LEGACY,
    expect: 'serves it without a hello from us: the data echoed, the stream closed',
    run: async (t) => {
      const c = await MuxClient.open(
        t,
        Buffer.concat([create(1), muxFrame(1, 'legacy'), closeStream(1)]),
      )
      await c.expectEcho(1, Buffer.from('legacy'), 'a legacy peer: stream 1 "legacy"')
    },
  },
  {
    id: '9.2',
    title: "a legacy peer numbering streams 1, 2, 3 (the verb docs' numbering)",
    section: LEGACY,
    expect: 'does not check parity for a legacy peer: all three echoed',
    run: async (t) => {
      const parts = [1, 2, 3].flatMap((id) => [create(id), muxFrame(id, `n${id}`), closeStream(id)])
      const c = await MuxClient.open(t, Buffer.concat(parts))
      for (const id of [1, 2, 3])
        await c.expectEcho(id, Buffer.from(`n${id}`), 'a legacy peer: streams 1, 2, 3')
    },
  },
  {
    id: '9.3',
    title: 'a legacy peer receiving 256 KiB',
    section: LEGACY,
    expect:
      'sends it all without waiting for credit, and sends no window_update or ping to a legacy peer',
    run: async (t) => {
      const payload = bytes(256 * 1024)
      const c = await MuxClient.open(t, null)
      await open(c, 1, true)
      await c.send(Buffer.concat([data(1, payload), closeStream(1)]))
      const sent = 'a legacy peer: 256 KiB on stream 1'
      await c.expectEcho(1, payload, sent)
      const extra = c.state.controls.find((m) => ['window_update', 'ping'].includes(m.type))
      if (extra) fail(sent, 'no window_update or ping towards a legacy peer', showValue(extra))
    },
  },
  {
    id: '9.4',
    title: 'a legacy peer sending one 200 KiB data frame',
    section: LEGACY,
    expect: 'accepts frames over 64 KiB from a legacy peer (up to 16 MiB): echoed in full',
    run: async (t) => {
      const payload = bytes(200 * 1024)
      const c = await MuxClient.open(t, null)
      await open(c, 1, true)
      await c.send(Buffer.concat([muxFrame(1, payload), closeStream(1)]))
      await c.expectEcho(1, payload, 'a legacy peer: one 200 KiB frame on stream 1')
    },
  },
])
