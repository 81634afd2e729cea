// The write pipeline on its own, over a recording Writable: what goes out in which write.
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { encodeControl, parseControl } from '../src/wire.ts'
import { WritePipeline } from '../src/write-pipeline.ts'
import { parseFrames } from './helpers.ts'

const turn = () => new Promise((r) => setImmediate(r))

/** A socket stand-in: records each write or writev as one batch; `hold` keeps callbacks back. */
function recorder(highWaterMark = 1 << 20) {
  const batches: Buffer[][] = []
  const held: (() => void)[] = []
  let hold = false
  const socket = new Writable({
    highWaterMark,
    write(chunk: Buffer, _e, cb) {
      batches.push([chunk])
      if (hold) held.push(() => cb())
      else cb()
    },
    writev(chunks, cb) {
      batches.push(chunks.map((c) => c.chunk as Buffer))
      if (hold) held.push(() => cb())
      else cb()
    },
  })
  return {
    socket,
    batches,
    hold: (on: boolean) => {
      hold = on
    },
    release: () => {
      for (const f of held.splice(0)) f()
    },
  }
}

const bytesOf = (batch: Buffer[]) => Buffer.concat(batch)

describe('WritePipeline', () => {
  it('control frames of one turn go out in one write, ahead of that turn’s data', async () => {
    const { socket, batches } = recorder()
    const data = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0x61])
    let pending = true
    const out = new WritePipeline(socket, 1 << 20, () => {
      if (pending) socket.write(data)
      pending = false
    })
    out.control(encodeControl({ type: 'ping', id: 1 }))
    out.control(encodeControl({ type: 'ping', id: 2 }))
    await turn()
    await turn()
    expect(batches).toHaveLength(1)
    const sent = parseFrames(bytesOf(batches[0] as Buffer[]))
    expect(sent.map((f) => f.streamId)).toEqual([0, 0, 1])
    expect(sent.slice(0, 2).map((f) => parseControl(f.payload))).toEqual([
      { type: 'ping', id: 1 },
      { type: 'ping', id: 2 },
    ])
  })

  it('window updates wait for the end of the turn; the latest limit per stream wins', async () => {
    const { socket, batches } = recorder()
    const out = new WritePipeline(socket, 1 << 20, () => {})
    out.window(1, 100)
    out.window(3, 300)
    out.window(1, 150)
    expect(batches).toHaveLength(0)
    await turn()
    await turn()
    const sent = parseFrames(bytesOf(batches.flat() as unknown as Buffer[]))
    expect(sent.map((f) => parseControl(f.payload))).toEqual([
      { type: 'window_update', streamId: 1, limit: 150 },
      { type: 'window_update', streamId: 3, limit: 300 },
    ])
  })

  it('with compact updates, a turn’s updates are one frame of 13-byte records', async () => {
    const { socket, batches } = recorder()
    const out = new WritePipeline(socket, 1 << 20, () => {})
    out.compact = true
    for (let id = 1; id <= 5; id++) out.window(id, id * 1000)
    await turn()
    await turn()
    const sent = parseFrames(bytesOf(batches.flat() as unknown as Buffer[]))
    expect(sent).toHaveLength(1)
    expect(sent[0]?.streamId).toBe(0xffffffff)
    expect(sent[0]?.payload.length).toBe(5 * 13)
  })

  it('holds the cork to the end of the turn: refills from several flushes share one writev', async () => {
    const { socket, batches } = recorder()
    let refills = 3
    const out = new WritePipeline(socket, 1 << 20, () => {
      if (refills > 0) {
        refills--
        socket.write(Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]))
        out.schedule() // a write callback refilling the stream, as a writer does
      }
    })
    out.schedule()
    await turn()
    await turn()
    expect(refills).toBe(0)
    expect(batches).toHaveLength(1)
    expect(batches[0]).toHaveLength(3)
  })

  it('stops framing data while the socket holds maxSocketBuffer bytes; control still goes; resumes on drain', async () => {
    const net = recorder(16)
    net.hold(true)
    let calls = 0
    let left = 3 // data frames the scheduler has
    const lengths: number[] = []
    const out = new WritePipeline(net.socket, 16, () => {
      calls++
      while (left > 0 && !out.full()) {
        net.socket.write(Buffer.alloc(8))
        left--
      }
      lengths.push(net.socket.writableLength)
    })
    out.schedule()
    await turn()
    expect(lengths).toEqual([16])
    expect(calls).toBe(1)
    expect(out.waitingDrain).toBe(true)
    out.control(encodeControl({ type: 'ping', id: 9 }))
    await turn()
    expect(calls).toBe(1) // no data while full
    const wrote = net.batches.flat().length
    expect(wrote).toBeGreaterThan(0)
    net.hold(false)
    net.release()
    await turn()
    await turn()
    expect(out.waitingDrain).toBe(false)
    expect(calls).toBe(2)
    expect(left).toBe(0)
  })

  it('writes nothing once stopped', async () => {
    const { socket, batches } = recorder()
    const out = new WritePipeline(socket, 1 << 20, () => socket.write(Buffer.alloc(8)))
    out.stopped = true
    out.control(encodeControl({ type: 'ping', id: 1 }))
    out.window(1, 1)
    out.schedule()
    await turn()
    await turn()
    expect(batches).toHaveLength(0)
  })
})
