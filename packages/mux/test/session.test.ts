import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { createSession, type MuxStream, ResetCode } from '../src/index.ts'
import { bytes, closeAll, duplexPair, readAll, sessionPair, until } from './helpers.ts'

afterEach(closeAll)

describe('streams', () => {
  it('opens a stream with type and metadata, sends both ways, half-closes', async () => {
    const { dialler, acceptor } = sessionPair()
    acceptor.on('stream', (stream) => {
      expect(stream.type).toBe('echo')
      expect(stream.metadata).toEqual({ user: 'ada' })
      stream.pipe(stream)
    })
    const stream = dialler.open('echo', { user: 'ada' })
    stream.end('hello')
    expect(String(await readAll(stream))).toBe('hello')
    await until(() => dialler.streams.size === 0 && acceptor.streams.size === 0)
  })

  it('end() is a half-close: the other direction keeps flowing', async () => {
    const { dialler, acceptor } = sessionPair()
    const got: Promise<Buffer>[] = []
    acceptor.on('stream', (stream) => {
      got.push(
        readAll(stream).then(async (b) => {
          // our side of the stream is still open after the peer's end()
          stream.write('late ')
          stream.end('reply')
          return b
        }),
      )
    })
    const stream = dialler.open('x')
    stream.end('request')
    const reply = await readAll(stream)
    expect(String(await got[0])).toBe('request')
    expect(String(reply)).toBe('late reply')
  })

  it('uses odd ids on the dialler and even ids on the acceptor, strictly increasing', async () => {
    const { dialler, acceptor } = sessionPair()
    dialler.on('stream', () => {})
    acceptor.on('stream', () => {})
    const d = [dialler.open('a'), dialler.open('b'), dialler.open('c')].map((s) => s.id)
    const a = [acceptor.open('a'), acceptor.open('b')].map((s) => s.id)
    expect(d).toEqual([1, 3, 5])
    expect(a).toEqual([2, 4])
  })

  it('both sides opening at once never collide', async () => {
    const { dialler, acceptor } = sessionPair()
    const seen = { d: [] as number[], a: [] as number[] }
    dialler.on('stream', (s) => {
      seen.d.push(s.id)
      s.resume()
      s.end()
    })
    acceptor.on('stream', (s) => {
      seen.a.push(s.id)
      s.resume()
      s.end()
    })
    const mine = []
    for (let i = 0; i < 20; i++) {
      mine.push(dialler.open('x'), acceptor.open('y'))
    }
    for (const s of mine) s.end(`from ${s.id}`)
    await until(() => seen.d.length === 20 && seen.a.length === 20)
    expect(new Set([...seen.a, ...seen.d]).size).toBe(40)
    expect(seen.a.every((id) => id % 2 === 1)).toBe(true)
    expect(seen.d.every((id) => id % 2 === 0)).toBe(true)
  })

  it('destroy() resets the stream; the peer sees ERR_MUX_STREAM_RESET with CANCEL', async () => {
    const { dialler, acceptor } = sessionPair()
    const errors: unknown[] = []
    acceptor.on('stream', (s) => {
      s.on('error', (e) => errors.push(e))
      s.resume()
    })
    const s = dialler.open('x')
    s.write('partial')
    await until(() => acceptor.streams.size === 1)
    s.destroy()
    await until(() => errors.length === 1)
    expect(errors[0]).toMatchObject({ code: 'ERR_MUX_STREAM_RESET', resetCode: ResetCode.CANCEL })
    await until(() => acceptor.streams.size === 0)
  })

  it('a reset without an error listener destroys quietly and keeps the error', async () => {
    const { dialler, acceptor } = sessionPair()
    let remote: MuxStream | undefined
    acceptor.on('stream', (s) => {
      remote = s
    })
    const s = dialler.open('x')
    s.write('a')
    await until(() => remote !== undefined)
    s.reset(42)
    await until(() => remote?.destroyed === true)
    expect(remote?.resetError).toMatchObject({ code: 'ERR_MUX_STREAM_RESET', resetCode: 42 })
  })

  it('refuses streams when nobody listens for them', async () => {
    const { dialler } = sessionPair()
    const s = dialler.open('x')
    const [err] = await once(s, 'error')
    expect(err).toMatchObject({
      code: 'ERR_MUX_STREAM_REFUSED',
      resetCode: ResetCode.REFUSED_STREAM,
    })
  })

  it('acceptStream can refuse by type', async () => {
    const { dialler } = sessionPair({}, { acceptStream: (info) => info.type === 'ok' })
    const s = dialler.open('nope')
    const [err] = await once(s, 'error')
    expect(err).toMatchObject({ code: 'ERR_MUX_STREAM_REFUSED' })
  })

  it('the verb docs names work: createStream, sendStreamData, closeStream', async () => {
    const { dialler, acceptor } = sessionPair()
    const got = once(acceptor, 'stream').then(async ([s]: MuxStream[]) => {
      const b = await readAll(s as MuxStream)
      return [s?.type, s?.metadata, String(b)]
    })
    const id = dialler.createStream('file', { name: 'a.txt' })
    expect(dialler.sendStreamData(id, Buffer.from('abc'))).toBe(true)
    dialler.closeStream(id)
    expect(await got).toEqual(['file', { name: 'a.txt' }, 'abc'])
  })

  it('moves a large payload intact', async () => {
    const { dialler, acceptor } = sessionPair({ initialWindow: 16384, maxWindow: 65536 })
    const payload = bytes(3 * 1024 * 1024 + 7)
    const got = once(acceptor, 'stream').then(([s]) => readAll(s))
    const s = dialler.open('bulk')
    s.end(payload)
    expect((await got).equals(payload)).toBe(true)
  })
})

describe('ping and goaway', () => {
  it('ping resolves with the RTT', async () => {
    const { dialler } = sessionPair()
    const rtt = await dialler.ping()
    expect(rtt).toBeGreaterThanOrEqual(0)
  })

  it('goAway names the last accepted stream; later streams are refused, earlier go on', async () => {
    const { dialler, acceptor } = sessionPair()
    const accepted: MuxStream[] = []
    acceptor.on('stream', (s) => accepted.push(s))
    const first = dialler.open('a')
    first.write('x')
    await until(() => accepted.length === 1)
    const goaway = once(dialler, 'goaway')
    acceptor.goAway()
    const [info] = await goaway
    expect(info).toMatchObject({ lastStreamId: first.id, code: 0 })
    expect(() => dialler.open('b')).toThrow(expect.objectContaining({ code: 'ERR_MUX_GOING_AWAY' }))
    // the existing stream still works both ways
    accepted[0]?.end('bye')
    first.end('done')
    expect(String(await readAll(first))).toBe('bye')
    expect(String(await readAll(accepted[0] as MuxStream))).toBe('x' + 'done')
  })

  it('close() drains open streams, then ends the connection', async () => {
    const { dialler, acceptor } = sessionPair()
    let remote: MuxStream | undefined
    acceptor.on('stream', (s) => {
      remote = s
    })
    const s = dialler.open('a')
    s.write('1')
    await until(() => remote !== undefined)
    const closed = dialler.close()
    let done = false
    void closed.then(() => {
      done = true
    })
    await new Promise((r) => setImmediate(r))
    expect(done).toBe(false)
    s.end('2')
    const r = remote as MuxStream
    r.end()
    s.resume()
    expect(String(await readAll(r))).toBe('12')
    await closed
    expect(dialler.closed).toBe(true)
    await until(() => acceptor.closed)
  })
})

describe('negotiation', () => {
  it('without compact on one side, window updates travel as JSON and bulk still flows', async () => {
    const { dialler, acceptor } = sessionPair(
      { initialWindow: 16384, maxWindow: 65536 },
      { initialWindow: 16384, maxWindow: 65536, compact: false },
    )
    const payload = bytes(1 << 20)
    const got = once(acceptor, 'stream').then(([s]) => readAll(s))
    const s = dialler.open('bulk')
    s.end(payload)
    expect((await got).equals(payload)).toBe(true)
    expect(acceptor.peer?.features).toContain('compact-window')
    expect(dialler.peer?.features).toEqual([])
  })

  it('a goaway with an error code from the peer is reported on close', async () => {
    const { dialler, acceptor } = sessionPair()
    const info = once(dialler, 'goaway')
    acceptor.goAway(2, 'internal trouble')
    expect((await info)[0]).toEqual({ lastStreamId: 0, code: 2, reason: 'internal trouble' })
    acceptor.destroy()
    await until(() => dialler.closed)
    expect(dialler.error).toMatchObject({ code: 'ERR_MUX_REMOTE_GOAWAY' })
  })

  it('open() after goaway, on a closed session, and with oversized metadata throws coded errors', () => {
    const { dialler } = sessionPair()
    expect(() => dialler.open('x', { big: 'y'.repeat(20_000) })).toThrow(
      expect.objectContaining({ code: 'ERR_MUX_CONTROL_TOO_LARGE' }),
    )
    dialler.goAway()
    expect(() => dialler.open('x')).toThrow(expect.objectContaining({ code: 'ERR_MUX_GOING_AWAY' }))
    dialler.destroy()
    expect(() => dialler.open('x')).toThrow(
      expect.objectContaining({ code: 'ERR_MUX_SESSION_CLOSED' }),
    )
  })

  it('rejects a missing role and out-of-range options with a TypeError/RangeError', () => {
    const [a] = duplexPair()
    // @ts-expect-error role is required
    expect(() => createSession(a, {})).toThrow(TypeError)
    expect(() => createSession(a, { role: 'dialler', initialWindow: 100 })).toThrow(RangeError)
    expect(() => createSession(a, { role: 'dialler', initialWindow: 100 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    )
    // @ts-expect-error not a role
    expect(() => createSession(a, { role: 'server' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    )
    // @ts-expect-error a misspelt option is an error, not a silent default
    expect(() => createSession(a, { role: 'dialler', initalWindow: 1 << 20 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    )
    expect(() => createSession(a, { role: 'dialler', pingTimeout: 2 ** 31 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    )
    expect(() => createSession(a, { role: 'dialler', helloTimeout: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    )
    a.destroy()
  })

  it('maxSeedFrameSize is still accepted as the deprecated name of maxLegacyFrameSize', () => {
    const [a] = duplexPair()
    expect(() => createSession(a, { role: 'dialler', maxSeedFrameSize: -1 })).toThrow(
      expect.objectContaining({
        code: 'ERR_OUT_OF_RANGE',
        message: expect.stringMatching(/maxSeedFrameSize/),
      }),
    )
    createSession(a, { role: 'dialler', maxSeedFrameSize: 1 << 20 }).destroy()
    a.destroy()
  })
})
