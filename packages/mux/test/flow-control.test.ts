import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import type { MuxStream } from '../src/index.ts'
import { createSession } from '../src/index.ts'
import {
  bytes,
  closeAll,
  type Loopback,
  loopback,
  readAll,
  sessionPair,
  track,
  until,
} from './helpers.ts'

const sockets: Loopback[] = []
afterEach(async () => {
  for (const l of sockets.splice(0)) {
    l.client.destroy()
    l.serverSocket.destroy()
    await new Promise((r) => l.server.close(r))
  }
})

afterEach(closeAll)

const WINDOW = 64 * 1024

describe('flow control', () => {
  it('a slow reader keeps receiver and sender buffers within the window', async () => {
    const { dialler, acceptor } = sessionPair({
      initialWindow: WINDOW,
      maxWindow: WINDOW,
      initialSessionWindow: 4 * WINDOW,
      maxSessionWindow: 4 * WINDOW,
      streamHighWaterMark: 16 * 1024,
    })
    const remote = once(acceptor, 'stream')
    const s = dialler.open('bulk')
    const chunk = bytes(16 * 1024)
    const total = 4 * 1024 * 1024
    let written = 0
    let maxUnread = 0
    let maxSenderQueued = 0
    const writer = (async () => {
      while (written < total) {
        written += chunk.length
        if (!s.write(chunk)) await once(s, 'drain')
        maxSenderQueued = Math.max(maxSenderQueued, s.writableLength + s.queued)
      }
      s.end()
    })()
    const [r] = (await remote) as [MuxStream]
    // The reader takes one 4 KiB bite per turn of the event loop: far slower than the writer.
    let got = 0
    let turns = 0
    while (got < total && turns < 200_000) {
      turns++
      await new Promise((resolve) => setImmediate(resolve))
      const unread = r.recv.received - r.recv.consumed
      maxUnread = Math.max(maxUnread, unread)
      expect(acceptor.bufferedBytes).toBeLessThanOrEqual(4 * WINDOW)
      const c = r.read(4096) as Buffer | null
      if (c !== null) got += c.length
      else if (r.readableEnded) break
    }
    await writer
    expect(got).toBe(total)
    // Unread bytes on the receiver never exceed the stream window...
    expect(maxUnread).toBeLessThanOrEqual(WINDOW)
    // ...and in flight at most the window: sent minus consumed.
    expect(s.sent - r.recv.consumed).toBeLessThanOrEqual(WINDOW)
    // the sender holds at most its high-water mark plus one write
    expect(maxSenderQueued).toBeLessThanOrEqual(16 * 1024 + chunk.length)
  })

  it('credit comes back on read, not on arrival: an unread stream stalls at its window', async () => {
    const { dialler, acceptor } = sessionPair({ initialWindow: WINDOW, maxWindow: WINDOW })
    const remote = once(acceptor, 'stream')
    const s = dialler.open('x')
    s.write(bytes(WINDOW * 3))
    const [r] = (await remote) as [MuxStream]
    await until(() => s.sent === WINDOW)
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(s.sent).toBe(WINDOW)
    expect(r.readableLength).toBe(WINDOW)
    r.read(WINDOW / 2)
    await until(() => s.sent > WINDOW)
    expect(s.sent).toBeLessThanOrEqual(WINDOW + WINDOW / 2 + WINDOW / 2)
  })

  it('a bulk stream does not starve a small request/response stream (loopback)', async () => {
    const net = await loopback()
    sockets.push(net)
    const dialler = track(createSession(net.client, { role: 'dialler', keepAliveInterval: 0 }))
    // Windows fixed at 1 MiB (no auto-tuning): the bulk bytes that can be in flight at any time.
    const window = 1 << 20
    const acceptor = track(
      createSession(net.serverSocket, {
        role: 'acceptor',
        keepAliveInterval: 0,
        initialWindow: window,
        maxWindow: window,
        initialSessionWindow: window,
        maxSessionWindow: window,
      }),
    )
    let bulkReceived = 0
    acceptor.on('stream', (stream) => {
      if (stream.type === 'bulk') {
        stream.on('data', (c: Buffer) => {
          bulkReceived += c.length
        })
      } else {
        stream.once('data', (req: Buffer) => stream.end(Buffer.concat([Buffer.from('re:'), req])))
        stream.resume()
      }
    })
    const bulk = dialler.open('bulk')
    const chunk = bytes(64 * 1024)
    let stop = false
    let bulkWritten = 0
    const pump = (async () => {
      for (let i = 0; i < 2000 && !stop; i++) {
        bulkWritten += chunk.length
        if (!bulk.write(chunk)) await once(bulk, 'drain')
      }
    })()
    // wait until the bulk stream is in full flow
    await until(() => bulkReceived > 1024 * 1024)
    const startedAt = bulkReceived
    const rpc = dialler.open('rpc')
    rpc.end('ping')
    const reply = await readAll(rpc)
    const bulkDuringRpc = bulkReceived - startedAt
    stop = true
    await pump
    expect(String(reply)).toBe('re:ping')
    // Round-robin puts the request at most one frame behind the bulk bytes already in flight
    // (bounded by the window), and the reply back at most one window later: not behind the rest
    // of the transfer.
    expect(bulkDuringRpc).toBeLessThanOrEqual(2 * window + 2 * 64 * 1024)
    expect(bulkWritten).toBeLessThan(2000 * chunk.length)
  })

  it('windows grow with demand up to the cap', async () => {
    const { dialler, acceptor } = sessionPair({ initialWindow: 16 * 1024, maxWindow: 1 << 20 })
    await dialler.ping()
    await acceptor.ping()
    const remote = once(acceptor, 'stream')
    const s = dialler.open('bulk')
    s.end(bytes(16 * 1024 * 1024))
    const [r] = (await remote) as [MuxStream]
    await readAll(r)
    expect(r.recv.window).toBeGreaterThan(16 * 1024)
    expect(r.recv.window).toBeLessThanOrEqual(1 << 20)
  })
})
