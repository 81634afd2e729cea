// open() at the peer's stream limit waits for a slot (first come, first served) instead of
// being refused; a signal or a timeout bounds the wait.
import { afterEach, expect, it } from 'vitest'
import type { MuxStream } from '../src/index.ts'
import { bytes, closeAll, readAll, sessionPair, until } from './helpers.ts'

afterEach(closeAll)

it('opens 3× the peer maxStreams at once; every stream completes, none is refused', async () => {
  const limit = 4
  const { dialler, acceptor } = sessionPair({}, { maxStreams: limit })
  let concurrent = 0
  let peak = 0
  acceptor.on('stream', (s: MuxStream) => {
    concurrent++
    peak = Math.max(peak, concurrent)
    s.once('close', () => {
      concurrent--
    })
    s.pipe(s)
  })
  await until(() => dialler.peer !== undefined)
  const payloads = Array.from({ length: 3 * limit }, (_, i) => bytes(64 * 1024, i + 1))
  const order: number[] = []
  const results = await Promise.all(
    payloads.map((p, i) => {
      const s = dialler.open('echo', { i })
      s.end(p)
      return readAll(s).then((b) => {
        order.push(i)
        return b
      })
    }),
  )
  for (const [i, r] of results.entries()) expect(r.equals(payloads[i] as Buffer)).toBe(true)
  expect(peak).toBeLessThanOrEqual(limit)
  expect(order.length).toBe(3 * limit)
})

it('waiting opens are admitted first come, first served', async () => {
  const { dialler, acceptor } = sessionPair({}, { maxStreams: 1 })
  const seen: unknown[] = []
  acceptor.on('stream', (s: MuxStream) => {
    seen.push(s.metadata.i)
    s.pipe(s)
  })
  await until(() => dialler.peer !== undefined)
  const streams = [0, 1, 2, 3].map((i) => dialler.open('echo', { i }))
  for (const s of streams) s.end('x')
  await Promise.all(streams.map(readAll))
  expect(seen).toEqual([0, 1, 2, 3])
})

it('an abort signal ends the wait: the stream is destroyed with ABORT_ERR, nothing is sent', async () => {
  const { dialler, acceptor } = sessionPair({}, { maxStreams: 1 })
  const created: number[] = []
  acceptor.on('stream', (s: MuxStream) => created.push(s.id))
  await until(() => dialler.peer !== undefined)
  const first = dialler.open('hold')
  const controller = new AbortController()
  const second = dialler.open('wait', {}, { signal: controller.signal })
  const errored = new Promise((resolve) => second.once('error', resolve))
  controller.abort()
  expect(await errored).toMatchObject({ code: 'ABORT_ERR', name: 'AbortError' })
  // The slot frees: a later open goes through, the aborted one was never announced.
  first.destroy()
  const third = dialler.open('after')
  third.end('y')
  await until(() => created.length === 2)
  expect(created).toEqual([first.id, third.id])
})

it('a timeout ends the wait with ERR_MUX_OPEN_TIMEOUT', async () => {
  const { dialler, acceptor } = sessionPair({}, { maxStreams: 1 })
  acceptor.on('stream', () => {})
  await until(() => dialler.peer !== undefined)
  dialler.open('hold')
  const waiting = dialler.open('wait', {}, { timeout: 5 })
  const error = await new Promise((resolve) => waiting.once('error', resolve))
  expect(error).toMatchObject({ code: 'ERR_MUX_OPEN_TIMEOUT', limit: 5 })
  expect(dialler.closed).toBe(false)
})
