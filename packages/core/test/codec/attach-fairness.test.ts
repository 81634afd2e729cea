// attachDecoder stops a batch mid-chunk (with a decoder that can), keeps the rest, and goes on
// where it stopped at the source's next turn; sources sharing a TurnBudget take turns.
import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { attachDecoder } from '../../src/codec/attach.ts'
import type { SyncDecoder } from '../../src/codec/decoder.ts'
import { TurnBudget } from '../../src/codec/turn-budget.ts'
import { checkDecoder, everySplit, until } from '../../src/testing.ts'
import { stalledDuplex } from './stalled-duplex.ts'

/** Every byte is a frame; stops when the sink asks. */
const bytes = (): SyncDecoder<number> => ({
  push(chunk, sink) {
    const b = chunk as Uint8Array
    for (let i = 0; i < b.length; i++) if (sink.frame(b[i] as number) === false) return i + 1
    return b.length
  },
  end() {},
})

const turn = () => new Promise((r) => setImmediate(r))
const sources: PassThrough[] = []
const cleanup: (() => void)[] = []
afterEach(() => {
  for (const s of sources.splice(0)) s.destroy()
  for (const f of cleanup.splice(0)) f()
})
const source = () => {
  const s = new PassThrough()
  sources.push(s)
  return s
}

/**
 * `sources` sources on one budget, each flooding 5,000 one-byte frames at once: the most units
 * the budget had counted when a frame was delivered.
 */
async function mostUsedUnderFlood(budget: TurnBudget, sources: number): Promise<number> {
  let delivered = 0
  let mostUsed = 0
  const frame = () => {
    delivered++
    mostUsed = Math.max(mostUsed, budget.used)
  }
  const srcs = Array.from({ length: sources }, () => source())
  for (const s of srcs) attachDecoder(s, bytes(), { frame, error: () => {} }, { budget })
  for (const s of srcs) s.write(Buffer.alloc(5000, 1))
  await until(() => delivered === sources * 5000)
  return mostUsed
}

describe('a batch that ends mid-chunk', () => {
  it('stops after maxFramesPerTurn frames and goes on where it stopped', async () => {
    const s = source()
    const seen: number[] = []
    const batches: number[] = []
    attachDecoder(
      s,
      bytes(),
      {
        frame: (b) => void seen.push(b),
        error: () => {},
        batchEnd: () => batches.push(seen.length),
      },
      { maxFramesPerTurn: 3, budget: new TurnBudget(1000) },
    )
    s.write(Buffer.from([1, 2, 3, 4, 5, 6, 7]))
    s.write(Buffer.from([8]))
    await new Promise((r) => process.nextTick(r))
    expect(seen).toEqual([1, 2, 3])
    expect(s.isPaused()).toBe(true)
    await until(() => seen.length === 8)
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    // One batch each: 3, then 3, then the chunk's last byte, then the next chunk.
    expect(batches).toEqual([3, 6, 7, 8])
  })

  it('delivers every frame exactly once at every split, stopping after every frame', async () => {
    const wire = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    for (const chunks of everySplit(wire)) {
      const s = source()
      const seen: number[] = []
      attachDecoder(
        s,
        bytes(),
        { frame: (b) => void seen.push(b), error: () => {} },
        { maxFramesPerTurn: 1, budget: new TurnBudget(1000) },
      )
      for (const c of chunks) s.write(c)
      await until(() => seen.length >= wire.length)
      for (let i = 0; i < 3; i++) await turn()
      expect(seen).toEqual([...wire])
    }
  })

  it('handles the end of input after the input it still holds', async () => {
    const s = source()
    const seen: number[] = []
    let ended = false
    attachDecoder(
      s,
      bytes(),
      {
        frame: (b) => void seen.push(b),
        error: () => {},
        end: () => {
          ended = true
          expect(seen).toHaveLength(50)
        },
      },
      { maxFramesPerTurn: 4, budget: new TurnBudget(1000) },
    )
    s.end(Buffer.alloc(50, 1))
    await until(() => ended)
  })

  it('stops as soon as a reply cannot be written, and goes on after the drain', async () => {
    const { stream: s, flush } = stalledDuplex()
    cleanup.push(() => s.destroy())
    const seen: number[] = []
    const a = attachDecoder(s, bytes(), {
      frame: (b) => {
        seen.push(b)
        // The second frame's reply fills the writable side.
        if (seen.length === 2 && !s.write(Buffer.alloc(10))) a.waitForDrain()
      },
      error: () => {},
    })
    s.push(Buffer.from([1, 2, 3, 4]))
    await turn()
    expect(seen).toEqual([1, 2])
    expect(a.paused).toBe(true)
    flush()
    await until(() => seen.length === 4)
    expect(seen).toEqual([1, 2, 3, 4])
  })
})

describe('sources sharing a budget', () => {
  it('take turns: a flood does not keep a small request waiting for all of it', async () => {
    const budget = new TurnBudget(64)
    const flood = source()
    const polite = source()
    let flooded = 0
    let floodedWhenServed = -1
    attachDecoder(flood, bytes(), { frame: () => void flooded++, error: () => {} }, { budget })
    attachDecoder(
      polite,
      bytes(),
      {
        frame: () => {
          floodedWhenServed = flooded
        },
        error: () => {},
      },
      { budget, maxFramesPerTurn: 16 },
    )
    const total = 64 * 1024
    flood.write(Buffer.alloc(total, 1))
    await turn()
    polite.write(Buffer.from([2]))
    await until(() => flooded === total && floodedWhenServed >= 0)
    // Served after at most a few turns of the flood's work, not after all of it.
    expect(floodedWhenServed).toBeLessThan(total / 8)
  })

  it("serves a source that is not flooding before the flooders' next round", async () => {
    // 16 flooders of 16-frame batches against 40 units a turn: a round of them is 6 turns.
    const budget = new TurnBudget(40)
    const polite = source()
    let flooded = 0
    let sentAt = -1
    const handlers = {
      frame: () => void flooded++,
      error: () => {},
      // The request comes in once a turn's budget is spent, as it does under a flood.
      batchEnd: () => {
        if (sentAt < 0 && flooded > 512 && budget.exhausted) {
          sentAt = flooded
          polite.write(Buffer.from([2]))
        }
      },
    }
    for (let i = 0; i < 16; i++) {
      const s = source()
      attachDecoder(s, bytes(), handlers, { budget, maxFramesPerTurn: 16 })
      s.write(Buffer.alloc(4096, 1))
    }
    let waited = -1
    attachDecoder(
      polite,
      bytes(),
      {
        frame: () => {
          waited = flooded - sentAt
        },
        error: () => {},
      },
      { budget, maxFramesPerTurn: 16 },
    )
    await until(() => waited >= 0)
    // In the next turn's first batch, not after a whole round of the 16 flooders (240 frames).
    expect(waited).toBeLessThan(40)
  })

  it('charges every frame of a batch to the turn, the one that ends it too', async () => {
    const budget = new TurnBudget(1000)
    const s = source()
    const seenUsed: number[] = []
    attachDecoder(
      s,
      bytes(),
      { frame: () => {}, error: () => {}, batchEnd: () => seenUsed.push(budget.used) },
      { maxFramesPerTurn: 16, budget },
    )
    s.write(Buffer.alloc(40, 1))
    await until(() => seenUsed.length === 1)
    expect(seenUsed[0]).toBe(16)
  })

  it('never lets one turn deliver more than its budget', async () => {
    const mostUsed = await mostUsedUnderFlood(new TurnBudget(100), 10)
    // `used` counts the frames (and KiB) of the turn so far; a frame is charged after its handler.
    expect(mostUsed).toBeLessThan(100)
  })
})

describe('the default budget', () => {
  // libuv accepts one connection per event-loop turn: under a flood, a new connection waits a
  // turn for every connection queued before it in the listen backlog, so a turn must stay short.
  // With 4096 units, a connection queued behind 2,000 flooding clients waited 5 s for its accept.
  it('keeps a flooded turn to at most 1024 frames', async () => {
    const mostUsed = await mostUsedUnderFlood(new TurnBudget(), 20)
    expect(mostUsed).toBeLessThanOrEqual(1024)
    // The flood did fill turns: the bound above is the budget's, not an idle loop's.
    expect(mostUsed).toBeGreaterThan(512)
  })
})

describe('checkDecoder with stopEvery', () => {
  it('pushes the rest again after each stop and finds the same frames', () => {
    const wire = Buffer.from([1, 2, 3, 4, 5])
    for (const chunks of everySplit(wire)) {
      for (const stopEvery of [1, 2, 3]) {
        expect(checkDecoder(bytes(), chunks, { stopEvery }).frames).toEqual([1, 2, 3, 4, 5])
      }
    }
  })

  it('catches a decoder that goes on after being asked to stop', () => {
    const eager: SyncDecoder<number> = {
      push(chunk, sink) {
        for (const b of chunk as Uint8Array) sink.frame(b)
        return (chunk as Uint8Array).length
      },
      end() {},
    }
    expect(() => checkDecoder(eager, [Buffer.from([1, 2])], { stopEvery: 1 })).toThrow(
      /after the sink asked to stop/,
    )
  })
})
