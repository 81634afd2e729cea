// @verb-tcp/bench-harness (private): the generic part of every frame-codec benchmark in this
// repository: seeded input, seeded chunking, the peers (it-length-prefixed,
// length-prefixed-stream) and our generic adapters driven the same way, one fresh node process
// per measured run, variants interleaved run by run, medians, and a ratio/floor table.
//
// A package's bench/run.mjs supplies what is its own: its scenarios and variants, how one run of
// its own variants goes (`runOnce`), and the floors it is held to; then calls `runBench`.
// Peers and packages resolve their imports from the package that calls in (pass `imports`).
//
// A/B against another build: `--base <package dir>` (the same package in another checkout, built)
// adds a `base:` twin of every variant with "ours" in its name; the twin loads that build
// through `loadBuild`, and a table of this build's medians over the base's follows the run.
// `--aa` adds an `again:` twin that runs this build once more, interleaved with the others: the
// noise of the A/B, measured in the same run.

import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'
import process from 'node:process'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'

const BASE_PREFIX = 'base:'
/** A second copy of this build's variant, in processes of its own: the A/A twin (`--aa`). */
const AGAIN_PREFIX = 'again:'

/**
 * The package build a run measures, with its own `@verb-tcp/core`: `{ lib, core, codec }`.
 * `url` is the calling bench's `import.meta.url` (its package's `dist/` is this build); in a
 * `base:` run, the package directory given to `--base` instead.
 */
export async function loadBuild(url) {
  const dir = process.env.BENCH_USE_BASE
    ? process.env.BENCH_BASE
    : join(dirname(fileURLToPath(url)), '..')
  const load = (file) => import(pathToFileURL(file).href)
  const lib = await load(join(dir, 'dist', 'index.js'))
  const coreDir = dirname(
    createRequire(join(dir, 'package.json')).resolve('@verb-tcp/core/package.json'),
  )
  const core = await load(join(coreDir, 'dist', 'index.js'))
  // Builds from before the codec plumbing moved to @verb-tcp/core/codec have it in the main entry.
  const codec = await load(join(coreDir, 'dist', 'codec', 'index.js')).catch(() => core)
  return { lib, core, codec }
}

/** The libp2p peers call Promise.withResolvers, which Node 20 lacks. */
export function polyfillWithResolvers() {
  if (typeof Promise.withResolvers === 'function') return
  Promise.withResolvers = function withResolvers() {
    let resolve
    let reject
    const promise = new this((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

/** The inputs every codec benchmark uses. */
export const SCENARIOS = {
  small: { frames: 1_000_000, size: 64 },
  large: { frames: 10_000, size: 64 * 1024 },
}
/** Chunk sizes, uniform between min and max: socket reads (tcp) and MTU-sized segments. */
export const CHUNKINGS = { tcp: { min: 1, max: 65536 }, mtu: { min: 1, max: 1460 } }

/** The peers' variants, frames/s of the framing alone. `-flat` adds `.subarray()`: contiguous bytes. */
export const PEER_VARIANTS = [
  'ilp-sync',
  'ilp-sync-flat',
  'ilp-async',
  'ilp-async-flat',
  'lps-data',
  'lps-pipeline',
]
/** Peers whose frames come out as contiguous bytes. */
export const CONTIGUOUS_PEERS = ['ilp-sync-flat', 'ilp-async-flat', 'lps-data', 'lps-pipeline']

export function mulberry32(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The peers' length prefix: an unsigned varint. */
export function varint(n) {
  const out = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Buffer.from(out)
}

/**
 * `frames` frames of `size` bytes, each `header(size)` then a payload: `payloadAt(f)` when given,
 * else seeded random bytes, one byte flipped per frame so no two neighbours are equal.
 */
export function buildWire({ frames, size }, header, payloadAt) {
  const rnd = mulberry32(7)
  const payload = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) payload[i] = (rnd() * 256) | 0
  const h = header(size)
  const wire = Buffer.allocUnsafe(frames * (h.length + size))
  let off = 0
  for (let f = 0; f < frames; f++) {
    off += h.copy(wire, off)
    if (payloadAt) off += payloadAt(f).copy(wire, off)
    else {
      off += payload.copy(wire, off)
      payload[f % size] ^= 0x5a
    }
  }
  return wire
}

/** `wire` cut into seeded random chunks: the same boundaries for every codec and every run. */
export function cutChunks(wire, { min, max }) {
  const rnd = mulberry32(42)
  const chunks = []
  let off = 0
  while (off < wire.length) {
    const end = Math.min(wire.length, off + min + Math.floor(rnd() * (max - min + 1)))
    chunks.push(wire.subarray(off, end))
    off = end
  }
  return chunks
}

export async function* asyncSource(chunks) {
  for (let i = 0; i < chunks.length; i++) yield chunks[i]
}

const now = () => process.hrtime.bigint()

/**
 * Runs one of our generic framing variants: `ours-sync` (decoder.push over the chunks),
 * `ours-async` / `ours-async-batch` (core's iterateFrames), `ours-pipeline` (core's
 * createDecoderTransform in stream.pipeline). `size(frame)` is a frame's payload length.
 * Returns `{ frames, bytes, t0, t1 }`, or undefined for another variant.
 */
/**
 * Runs `once` (one timed pass over the input, returning `{ frames, bytes, t0, t1 }`) as many
 * times as `--passes` says (1 by default) and returns the fastest pass, or the first one whose
 * counts differ from the first pass's (so that the run's check fails). A single pass of 1,000,000
 * small frames takes some 60 ms, much of it spent before the optimizing compiler has run and
 * exposed to whatever else the machine does: the fastest of several passes in one process is
 * the steady-state speed an A/B of a hot loop needs.
 */
export function fastestPass(once) {
  const passes = Number(process.env.BENCH_PASSES ?? 1)
  let best = once()
  for (let p = 1; p < passes; p++) {
    const r = once()
    if (r.frames !== best.frames || r.bytes !== best.bytes) return r
    if (r.t1 - r.t0 < best.t1 - best.t0) best = r
  }
  return best
}

export async function runOursFraming(variant, chunks, makeDecoder, size, core) {
  let frames = 0
  let bytes = 0
  let t0
  let t1
  if (variant === 'ours-sync') {
    return fastestPass(() => {
      let frames = 0
      let bytes = 0
      const d = makeDecoder()
      const sink = {
        frame(f) {
          frames++
          bytes += size(f)
        },
        error(e) {
          throw e
        },
      }
      const t0 = now()
      for (let i = 0; i < chunks.length; i++) d.push(chunks[i], sink)
      d.end(sink)
      const t1 = now()
      return { frames, bytes, t0, t1 }
    })
  } else if (variant === 'ours-async' || variant === 'ours-async-batch') {
    const d = makeDecoder()
    t0 = now()
    if (variant === 'ours-async') {
      for await (const f of core.iterateFrames(asyncSource(chunks), d)) {
        frames++
        bytes += size(f)
      }
    } else {
      for await (const batch of core.iterateFrames(asyncSource(chunks), d, { batch: true })) {
        for (let i = 0; i < batch.length; i++) {
          frames++
          bytes += size(batch[i])
        }
      }
    }
    t1 = now()
  } else if (variant === 'ours-pipeline') {
    const t = core.createDecoderTransform(makeDecoder())
    const sink = new Writable({
      objectMode: true,
      highWaterMark: 1024,
      write(f, _e, cb) {
        frames++
        bytes += size(f)
        cb()
      },
      writev(list, cb) {
        for (const { chunk } of list) {
          frames++
          bytes += size(chunk)
        }
        cb()
      },
    })
    t0 = now()
    await pipeline(Readable.from(chunks, { objectMode: false }), t, sink)
    t1 = now()
  } else return undefined
  return { frames, bytes, t0, t1 }
}

/**
 * Runs one peer variant over varint-framed chunks, with `limit` as its size limit.
 * `imports.ilp()` and `imports.lps()` load the peers from the calling package.
 */
export async function runPeer(variant, chunks, limit, imports) {
  let frames = 0
  let bytes = 0
  let t0
  let t1
  if (variant.startsWith('ilp-')) {
    const lp = await imports.ilp()
    const opts = { maxDataLength: limit }
    const flat = variant.endsWith('-flat')
    const count = (f) => {
      const u8 = flat ? f.subarray() : f
      frames++
      bytes += u8.byteLength
    }
    t0 = now()
    if (variant.startsWith('ilp-sync')) for (const f of lp.decode(chunks, opts)) count(f)
    else for await (const f of lp.decode(asyncSource(chunks), opts)) count(f)
    t1 = now()
  } else if (variant === 'lps-data') {
    const lps = (await imports.lps()).default
    const dec = lps.decode({ limit })
    const done = new Promise((resolve, reject) => {
      dec.on('data', (f) => {
        frames++
        bytes += f.length
      })
      dec.on('end', resolve)
      dec.on('error', reject)
    })
    t0 = now()
    for (let i = 0; i < chunks.length; i++) {
      if (!dec.write(chunks[i])) await new Promise((resolve) => dec.once('drain', resolve))
    }
    dec.end()
    await done
    t1 = now()
  } else if (variant === 'lps-pipeline') {
    const lps = (await imports.lps()).default
    const sink = new Writable({
      write(f, _e, cb) {
        frames++
        bytes += f.length
        cb()
      },
      writev(list, cb) {
        for (const { chunk } of list) {
          frames++
          bytes += chunk.length
        }
        cb()
      },
    })
    t0 = now()
    await pipeline(Readable.from(chunks, { objectMode: false }), lps.decode({ limit }), sink)
    t1 = now()
  } else return undefined
  return { frames, bytes, t0, t1 }
}

/** The JSON line a child prints for one run. */
export function result({ variant, scenario, chunking, chunks, ok, frames, t0, t1, wireBytes }) {
  const sec = Number(t1 - t0) / 1e9
  return {
    variant,
    scenario,
    chunking,
    chunks,
    ok,
    frames,
    sec,
    framesPerSec: frames / sec,
    wireMBps: wireBytes / sec / 1e6,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  }
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
export const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
export const si = (n) =>
  n >= 1e6 ? `${fmt(n / 1e6, 2)} M` : n >= 1e3 ? `${fmt(n / 1e3, 1)} k` : fmt(n)

export function arg(args, name, fallback) {
  const at = args.indexOf(name)
  return at === -1 ? fallback : args[at + 1]
}

/**
 * The command line every codec benchmark shares:
 *   --runs N  --only v1,v2  --scenario s1,s2  --chunking c1,c2
 *   --passes P      each sync run times P passes in its process and keeps the fastest
 *   --base DIR      A/B: a `base:` twin of each of our variants, loading the build in DIR
 *   --aa            A/A: an `again:` twin of each of our variants, loading this build again
 *   --child <variant> <scenario> <chunking>    one run, prints JSON (used internally)
 *
 * `spec`: `url` (the caller's import.meta.url, re-run as the child), `variants` (all of them),
 * `scenarios` and `chunkings` (names run by default), `runOnce(variant, scenario, chunking)`,
 * `floors` (see `printRatios`), `runs` (default 5), and optionally `variantsFor(scenario)`
 * (the variants that apply to a scenario) and `chunkingsFor(scenario)` (its chunkings, when
 * they are not the common ones).
 */
export async function runBench(spec) {
  const args = process.argv.slice(2)
  const childAt = args.indexOf('--child')
  if (childAt !== -1) {
    const [variant, scenario, chunking] = args.slice(childAt + 1)
    const base = variant.startsWith(BASE_PREFIX)
    if (base) process.env.BENCH_USE_BASE = '1'
    const prefix = base ? BASE_PREFIX : variant.startsWith(AGAIN_PREFIX) ? AGAIN_PREFIX : ''
    const r = await spec.runOnce(variant.slice(prefix.length), scenario, chunking)
    r.variant = variant
    process.stdout.write(`${JSON.stringify(r)}\n`)
    process.exit(r.ok ? 0 : 2)
  }
  const runs = Number(arg(args, '--runs', String(spec.runs ?? 5)))
  // Children inherit the environment: `fastestPass` reads it there.
  process.env.BENCH_PASSES = String(Number(arg(args, '--passes', '1')))
  let variants = arg(args, '--only', spec.variants.join(',')).split(',')
  const baseDir = arg(args, '--base', undefined)
  if (baseDir !== undefined) {
    // Children inherit the environment: they find the base build through it.
    process.env.BENCH_BASE = resolve(baseDir)
    variants = variants.flatMap((v) => (v.includes('ours') ? [v, `${BASE_PREFIX}${v}`] : [v]))
  }
  const aa = args.includes('--aa')
  if (aa) {
    variants = variants.flatMap((v) =>
      v.includes('ours') && !v.startsWith(BASE_PREFIX) ? [v, `${AGAIN_PREFIX}${v}`] : [v],
    )
  }
  const scenarios = arg(args, '--scenario', spec.scenarios.join(',')).split(',')
  const chunkingArg = arg(args, '--chunking', undefined)
  const chunkingsOf = (scenario) => {
    const own = spec.chunkingsFor?.(scenario) ?? spec.chunkings
    return chunkingArg === undefined ? own : chunkingArg.split(',').filter((c) => own.includes(c))
  }
  const self = fileURLToPath(spec.url)
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu'
  console.log(
    `node ${process.version}, ${cpu} (${os.cpus().length} cpus), ${runs} runs per cell, interleaved`,
  )
  console.log(
    '| scenario | chunking | variant | frames/s median (min–max) | wire MB/s | max RSS MiB | ok |',
  )
  console.log('|---|---|---|---:|---:|---:|---|')
  const cells = {}
  for (const scenario of scenarios) {
    const mine = spec.variantsFor?.(scenario)
    const list =
      mine === undefined
        ? variants
        : variants.filter((v) =>
            mine.includes(v.replace(BASE_PREFIX, '').replace(AGAIN_PREFIX, '')),
          )
    for (const chunking of chunkingsOf(scenario)) {
      const results = Object.fromEntries(list.map((v) => [v, []]))
      for (let r = 0; r < runs; r++) {
        // The order rotates run by run, so no variant always runs first (or right after another).
        for (let k = 0; k < list.length; k++) {
          const variant = list[(k + r) % list.length]
          const p = spawnSync(process.execPath, [self, '--child', variant, scenario, chunking], {
            encoding: 'utf8',
            maxBuffer: 1 << 20,
          })
          if (p.status !== 0) {
            console.error(`run failed: ${variant} ${scenario} ${chunking}: ${p.stderr || p.stdout}`)
            results[variant].push(undefined)
            continue
          }
          results[variant].push(JSON.parse(p.stdout.trim().split('\n').pop()))
        }
      }
      for (const variant of list) {
        const ok = results[variant].filter(Boolean)
        if (ok.length === 0) continue
        const fps = ok.map((x) => x.framesPerSec)
        cells[`${scenario}/${chunking}/${variant}`] = results[variant]
        console.log(
          `| ${scenario} | ${chunking} (${fmt(ok[0].chunks)} chunks) | ${variant} | ${si(median(fps))} (${si(Math.min(...fps))}–${si(Math.max(...fps))}) | ${fmt(median(ok.map((x) => x.wireMBps)))} | ${fmt(median(ok.map((x) => x.maxRssMiB)))} | ${ok.filter((x) => x.ok).length}/${runs} |`,
        )
      }
    }
  }
  printRatios(cells, scenarios, chunkingsOf, spec.floors)
  if (baseDir !== undefined || aa) printAB(cells, variants, scenarios, chunkingsOf)
}

/**
 * The A/B table: for each of our variants, this build over the `--base` build and over its own
 * `--aa` twin, as the median of per-run ratios (run i over run i), their range, and the ratio of
 * medians.
 */
export function printAB(cells, variants, scenarios, chunkingsOf) {
  const twins = [BASE_PREFIX, AGAIN_PREFIX].filter((p) => variants.some((v) => v.startsWith(p)))
  const head = twins.map((p) =>
    p === BASE_PREFIX ? 'A/B: this build ÷ --base' : 'A/A: this build ÷ itself',
  )
  console.log('\nEach cell: median of per-run ratios (per-run min–max); ratio of medians.')
  console.log(
    `| scenario | chunking | variant | ${head.join(' | ')} |\n|---|---|---|${head.map(() => '---:').join('|')}|`,
  )
  const ours = variants.filter((v) => v.includes('ours') && !twins.some((p) => v.startsWith(p)))
  for (const scenario of scenarios) {
    for (const chunking of chunkingsOf(scenario)) {
      for (const v of ours) {
        const a = cells[`${scenario}/${chunking}/${v}`]
        if (a === undefined) continue
        const cols = twins.map((p) => {
          const b = cells[`${scenario}/${chunking}/${p}${v}`]
          if (b === undefined) return '–'
          const perRun = a
            .map((x, i) => (x && b[i] ? x.framesPerSec / b[i].framesPerSec : undefined))
            .filter((x) => x !== undefined)
          const fps = (c) => median(c.filter(Boolean).map((x) => x.framesPerSec))
          return `${fmt(median(perRun), 2)}× (${fmt(Math.min(...perRun), 2)}–${fmt(Math.max(...perRun), 2)}); ${fmt(fps(a) / fps(b), 2)}×`
        })
        console.log(`| ${scenario} | ${chunking} | ${v} | ${cols.join(' | ')} |`)
      }
    }
  }
}

/** Ratio of medians, plus the spread of per-run ratios (run i of ours over run i of the peer). */
export function ratio(cells, key, ours, peers) {
  const a = cells[`${key}/${ours}`]
  if (a === undefined) return undefined
  const peerMedians = peers
    .filter((p) => cells[`${key}/${p}`] !== undefined)
    .map((p) => [p, median(cells[`${key}/${p}`].filter(Boolean).map((x) => x.framesPerSec))])
  if (peerMedians.length === 0) return undefined
  const [best, bestMedian] = peerMedians.sort((x, y) => y[1] - x[1])[0]
  const b = cells[`${key}/${best}`]
  const ours_ = median(a.filter(Boolean).map((x) => x.framesPerSec))
  const perRun = a
    .map((x, i) => (x && b[i] ? x.framesPerSec / b[i].framesPerSec : undefined))
    .filter((x) => x !== undefined)
  return { best, value: ours_ / bestMedian, min: Math.min(...perRun), max: Math.max(...perRun) }
}

/**
 * The floor table. Each floor is `[scenario, label, ours, peers, floor]`: our variant's median
 * frames/s over the best median among `peers`, in every chunking of that scenario that ran.
 */
export function printRatios(cells, scenarios, chunkingsOf, floors) {
  console.log(
    '\n| scenario | chunking | floor | against | ratio of medians (per-run min–max) | floor | met |',
  )
  console.log('|---|---|---|---|---:|---:|---|')
  for (const [scenario, label, ours, peers, floor] of floors) {
    if (!scenarios.includes(scenario)) continue
    for (const chunking of chunkingsOf(scenario)) {
      const r = ratio(cells, `${scenario}/${chunking}`, ours, peers)
      if (r === undefined) continue
      console.log(
        `| ${scenario} | ${chunking} | ${label} | ${r.best} | ${fmt(r.value, 2)}× (${fmt(r.min, 2)}–${fmt(r.max, 2)}) | ${floor}× | ${r.value >= floor ? 'yes' : 'NO'} |`,
      )
    }
  }
}
