import { afterEach, describe, expect, it, vi } from 'vitest'
import { type MuxStream, ResetCode } from '../src/index.ts'
import {
  closeAll,
  closeError,
  controls,
  ctrl,
  frame,
  HELLO,
  rawPeer,
  readAll,
  sessionPair,
  until,
} from './helpers.ts'

afterEach(async () => {
  await closeAll()
  vi.useRealTimers()
})

describe('abuse limits', () => {
  it('refuses streams over maxStreams with a reset; the session lives', async () => {
    const { dialler, acceptor } = sessionPair({}, { maxStreams: 3 })
    const accepted: MuxStream[] = []
    acceptor.on('stream', (s) => accepted.push(s))
    const opened = Array.from({ length: 5 }, () => dialler.open('x'))
    const refused: unknown[] = []
    for (const s of opened) s.on('error', (e) => refused.push(e))
    await until(() => refused.length === 2)
    expect(accepted.map((s) => s.id)).toEqual([1, 3, 5])
    expect(refused).toEqual([
      expect.objectContaining({ code: 'ERR_MUX_STREAM_REFUSED', streamId: 7 }),
      expect.objectContaining({ code: 'ERR_MUX_STREAM_REFUSED', streamId: 9 }),
    ])
    // closing one frees a slot; the session still works
    accepted[0]?.end()
    opened[0]?.end()
    accepted[0]?.resume()
    await until(() => acceptor.streams.size === 2)
    const again = dialler.open('again')
    again.end('ok')
    await until(() => accepted.length === 4)
    expect(String(await readAll(accepted[3] as MuxStream))).toBe('ok')
  })

  it('rapid open+reset beyond the budget closes the session with ERR_MUX_RATE_LIMITED', async () => {
    const { session, send, received } = rawPeer({ maxResetsPerSecond: 5 })
    session.on('stream', () => {})
    const closed = closeError(session)
    send(ctrl(HELLO))
    for (let id = 1; id < 40; id += 2) {
      send(ctrl({ type: 'stream_create', streamId: id, streamType: 'x', metadata: {} }))
      send(ctrl({ type: 'stream_reset', streamId: id, code: 8 }))
    }
    const error = await closed
    expect(error).toMatchObject({ code: 'ERR_MUX_RATE_LIMITED', limit: 5 })
    expect(controls(received()).at(-1)).toMatchObject({
      type: 'goaway',
      code: ResetCode.ENHANCE_YOUR_CALM,
    })
  })

  it('resets of streams that carried nothing close the session past maxEmptyResets, below the per-second budgets', async () => {
    // The per-second budgets are far away: only the empty-stream budget can stop this peer.
    const { session, send, received } = rawPeer({
      maxEmptyResets: 10,
      maxResetsPerSecond: 100_000,
      maxOpensPerSecond: 100_000,
    })
    let accepted = 0
    session.on('stream', () => accepted++)
    const closed = closeError(session)
    send(ctrl(HELLO))
    for (let id = 1; id < 60; id += 2) {
      send(ctrl({ type: 'stream_create', streamId: id, streamType: 'x', metadata: {} }))
      send(ctrl({ type: 'stream_reset', streamId: id, code: 8 }))
    }
    expect(await closed).toMatchObject({ code: 'ERR_MUX_RATE_LIMITED', limit: 10 })
    expect(accepted).toBe(11) // the budget, then the stream whose reset went over it
    expect(controls(received()).at(-1)).toMatchObject({
      type: 'goaway',
      code: ResetCode.ENHANCE_YOUR_CALM,
    })
  })

  it('resets of refused streams count against maxEmptyResets too', async () => {
    const { session, send } = rawPeer({
      maxEmptyResets: 10,
      maxResetsPerSecond: 100_000,
      maxOpensPerSecond: 100_000,
      acceptStream: () => false,
    })
    const closed = closeError(session)
    send(ctrl(HELLO))
    for (let id = 1; id < 60; id += 2) {
      send(ctrl({ type: 'stream_create', streamId: id, streamType: 'x', metadata: {} }))
      send(ctrl({ type: 'stream_reset', streamId: id, code: 8 }))
    }
    expect(await closed).toMatchObject({ code: 'ERR_MUX_RATE_LIMITED', limit: 10 })
  })

  it('resets of streams that carried data do not spend maxEmptyResets', async () => {
    const { session, send, received } = rawPeer({
      maxEmptyResets: 10,
      maxResetsPerSecond: 100_000,
      maxOpensPerSecond: 100_000,
    })
    const got: number[] = []
    session.on('stream', (s) => {
      s.on('data', () => got.push(s.id))
      s.on('error', () => {})
    })
    send(ctrl(HELLO))
    for (let id = 1; id < 60; id += 2) {
      send(ctrl({ type: 'stream_create', streamId: id, streamType: 'x', metadata: {} }))
      send(frame(id, 'request'))
      send(ctrl({ type: 'stream_reset', streamId: id, code: 8 }))
    }
    send(ctrl({ type: 'ping', id: 7 }))
    await until(() => controls(received()).some((m) => m.type === 'pong' && m.id === 7))
    expect(got.length).toBe(30)
    expect(session.closed).toBe(false)
  })

  it('a burst of opens over the budget is refused; the session lives', async () => {
    const { session, send, received } = rawPeer({ maxOpensPerSecond: 3 })
    const accepted: number[] = []
    session.on('stream', (s) => accepted.push(s.id))
    send(ctrl(HELLO))
    for (let id = 1; id <= 11; id += 2) {
      send(ctrl({ type: 'stream_create', streamId: id, streamType: 'x', metadata: {} }))
    }
    await until(() => controls(received()).filter((m) => m.type === 'stream_reset').length === 3)
    expect(accepted).toEqual([1, 3, 5])
    expect(controls(received()).filter((m) => m.type === 'stream_reset')).toEqual([
      { type: 'stream_reset', streamId: 7, code: ResetCode.REFUSED_STREAM },
      { type: 'stream_reset', streamId: 9, code: ResetCode.REFUSED_STREAM },
      { type: 'stream_reset', streamId: 11, code: ResetCode.REFUSED_STREAM },
    ])
    expect(session.closed).toBe(false)
  })

  it('opens at twice the budget close the session with ERR_MUX_RATE_LIMITED', async () => {
    const { session, send } = rawPeer({ maxOpensPerSecond: 3 })
    session.on('stream', () => {})
    const closed = closeError(session)
    send(ctrl(HELLO))
    for (let id = 1; id < 40; id += 2) {
      send(ctrl({ type: 'stream_create', streamId: id, streamType: 'x', metadata: {} }))
    }
    expect(await closed).toMatchObject({ code: 'ERR_MUX_RATE_LIMITED', limit: 3 })
  })

  it('a ping flood closes the session', async () => {
    const { session, send } = rawPeer({ maxPingsPerSecond: 4 })
    const closed = closeError(session)
    send(ctrl(HELLO))
    for (let i = 0; i < 20; i++) send(ctrl({ type: 'ping', id: i }))
    expect(await closed).toMatchObject({ code: 'ERR_MUX_RATE_LIMITED' })
  })

  it('a control message over maxControlBytes closes the session', async () => {
    const { session, send } = rawPeer({ maxControlBytes: 4096 })
    const closed = closeError(session)
    send(
      ctrl(HELLO),
      ctrl({ type: 'stream_create', streamId: 1, metadata: { x: 'y'.repeat(5000) } }),
    )
    expect(await closed).toMatchObject({ code: 'ERR_MUX_CONTROL_TOO_LARGE', limit: 4096 })
  })
})

describe('protocol errors close the session with a code, never a crash', () => {
  const cases: [string, Buffer[], string][] = [
    [
      'garbage (an HTTP request)',
      [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
      'ERR_FRAME_TOO_LARGE',
    ],
    ['bad JSON on stream 0', [frame(0, '{nope')], 'ERR_MUX_BAD_CONTROL'],
    ['a control message that is not an object', [frame(0, '[1]')], 'ERR_MUX_BAD_CONTROL'],
    ['oversize data frame', [ctrl(HELLO), frame(1, Buffer.alloc(65537))], 'ERR_FRAME_TOO_LARGE'],
    [
      'wrong parity (dialler opening an even id)',
      [ctrl(HELLO), ctrl({ type: 'stream_create', streamId: 2, streamType: 'x' })],
      'ERR_MUX_BAD_STREAM_ID',
    ],
    [
      'a reused stream id',
      [
        ctrl(HELLO),
        ctrl({ type: 'stream_create', streamId: 3, streamType: 'x' }),
        ctrl({ type: 'stream_create', streamId: 1, streamType: 'x' }),
      ],
      'ERR_MUX_BAD_STREAM_ID',
    ],
    ['data for a never-opened stream', [ctrl(HELLO), frame(9, 'x')], 'ERR_MUX_UNKNOWN_STREAM'],
    [
      'data past the stream window',
      [
        ctrl(HELLO),
        ctrl({ type: 'stream_create', streamId: 1, streamType: 'x' }),
        frame(1, Buffer.alloc(16384)),
        frame(1, Buffer.alloc(1)),
      ],
      'ERR_MUX_FLOW_CONTROL',
    ],
    ['a second hello', [ctrl(HELLO), ctrl(HELLO)], 'ERR_MUX_BAD_CONTROL'],
    [
      'a hello below the minimum window',
      [ctrl({ ...HELLO, initialWindow: 100 })],
      'ERR_MUX_BAD_CONTROL',
    ],
    [
      'a truncated frame at the end',
      [
        ctrl(HELLO),
        ctrl({ type: 'stream_create', streamId: 1, streamType: 'x' }),
        frame(1, 'abc').subarray(0, 9),
      ],
      'ERR_TRUNCATED_FRAME',
    ],
  ]

  for (const withListener of [false, true]) {
    for (const [name, input, code] of cases) {
      it(`${name} → ${code} (${withListener ? 'with' : 'without'} an 'error' listener)`, async () => {
        const { session, send, raw, received } = rawPeer({ initialWindow: 16384 })
        session.on('stream', (s) => s.on('error', () => {}))
        const errors: unknown[] = []
        if (withListener) session.on('error', (e) => errors.push(e))
        const closed = closeError(session)
        send(...input)
        if (code === 'ERR_TRUNCATED_FRAME') raw.end()
        const error = await closed
        expect(error).toMatchObject({ code, recoverable: false })
        if (withListener) expect(errors).toEqual([error])
        if (code !== 'ERR_TRUNCATED_FRAME') {
          expect(controls(received()).find((m) => m.type === 'goaway')).toBeDefined()
        }
      })
    }
  }

  it('data for a stream that was closed or reset is ignored', async () => {
    const { session, send } = rawPeer()
    session.on('stream', (s) => s.resume())
    send(
      ctrl(HELLO),
      ctrl({ type: 'stream_create', streamId: 1, streamType: 'x' }),
      ctrl({ type: 'stream_reset', streamId: 1, code: 8 }),
      frame(1, 'late'),
      ctrl({ type: 'stream_create', streamId: 3, streamType: 'x' }),
    )
    await until(() => session.streams.has(3))
    expect(session.closed).toBe(false)
    expect(session.streams.has(1)).toBe(false)
  })
})

describe('ping timeout', () => {
  it('a ping with no pong closes the session with ERR_MUX_PING_TIMEOUT (fake timers)', async () => {
    vi.useFakeTimers()
    const { session, send } = rawPeer({ pingTimeout: 1000, keepAliveInterval: 5000 })
    const closed = closeError(session)
    send(ctrl(HELLO)) // a peer that says hello, then never answers
    await vi.advanceTimersByTimeAsync(999)
    expect(session.closed).toBe(false)
    await vi.advanceTimersByTimeAsync(2)
    expect(await closed).toMatchObject({ code: 'ERR_MUX_PING_TIMEOUT', limit: 1000 })
  })

  it('keepalive pings that are answered keep the session up (fake timers)', async () => {
    vi.useFakeTimers()
    const { dialler, b } = sessionPair({ pingTimeout: 1000, keepAliveInterval: 500 })
    const seen: Buffer[] = []
    b.on('data', (c: Buffer) => seen.push(c))
    const pings = () => controls(Buffer.concat(seen)).filter((m) => m.type === 'ping').length
    // the one ping sent at hello, for an RTT
    for (let i = 0; i < 50 && pings() === 0; i++) await vi.advanceTimersByTimeAsync(1)
    const first = pings()
    for (let i = 0; i < 10; i++) await vi.advanceTimersByTimeAsync(500)
    // One ping per interval, each answered: ten intervals, ten more pings, session up.
    expect(pings() - first).toBe(10)
    expect(dialler.closed).toBe(false)
  })

  it('no keepalive pings with keepAliveInterval 0 (fake timers)', async () => {
    vi.useFakeTimers()
    const { dialler, b } = sessionPair({ keepAliveInterval: 0 })
    const seen: Buffer[] = []
    b.on('data', (c: Buffer) => seen.push(c))
    const pings = () => controls(Buffer.concat(seen)).filter((m) => m.type === 'ping').length
    // the one ping sent at hello, for an RTT
    for (let i = 0; i < 50 && pings() === 0; i++) await vi.advanceTimersByTimeAsync(1)
    const first = pings()
    for (let i = 0; i < 10; i++) await vi.advanceTimersByTimeAsync(30_000)
    expect(pings()).toBe(first)
    expect(dialler.closed).toBe(false)
  })

  it('ping() rejects once the session is closed', async () => {
    const { dialler } = sessionPair()
    dialler.destroy()
    await expect(dialler.ping()).rejects.toMatchObject({ code: 'ERR_MUX_SESSION_CLOSED' })
  })
})
