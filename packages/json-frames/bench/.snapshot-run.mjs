// Decode throughput of @verb-tcp/json-frames against the peers it replaces, in the same run on
// the same payloads, following ../../../../shared/research/bench-codec-peers.mjs:
//   1,000,000 x 64 B frames and 10,000 x 64 KiB frames, cut into seeded random chunks of
//   1-65,536 bytes (tcp) and 1-1,460 bytes (mtu). Each measured run is its own node process;
//   variants are interleaved run by run so machine noise hits all of them alike.
//
// Peers use a varint length prefix, we use "<decimal>\n": the payloads are identical, the wire
// differs by the header (3 vs 1 bytes for 64 B frames, 6 vs 3 for 64 KiB), and the same seeded
// chunk-size sequence is applied to each wire.
//
// Usage (after `pnpm build`):
//   node bench/run.mjs                       # everything, 5 runs per cell
//   node bench/run.mjs --runs 3 --scenario small --chunking tcp
//   node bench/run.mjs --only ours-sync,lps-data
//   node bench/run.mjs --child <variant> <scenario> <chunking>   # one run, prints JSON

import { spawnSync } from 'node:child_process'
import os from 'node:os'
import process from 'node:process'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'

// The libp2p peers call Promise.withResolvers, which Node 20 lacks.
if (typeof Promise.withResolvers !== 'function') {
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

const SCENARIOS = {
  small: { frames: 1_000_000, size: 64 },
  large: { frames: 10_000, size: 64 * 1024 },
}
const CHUNKINGS = { tcp: { min: 1, max: 65536 }, mtu: { min: 1, max: 1460 } }

// Binary payloads: frames/s of the framing alone.
const FRAMING = [
  'ours-sync', // FrameDecoder.push over the chunk array
  'ours-async', // iterateFrames over an async iterable, one frame per next()
  'ours-async-batch', // the same with { batch: true }
  'ours-pipeline', // createDecoderTransform inside stream.pipeline
  'ilp-sync',
  'ilp-sync-flat', // + .subarray(): contiguous bytes
  'ilp-async',
  'ilp-async-flat', // + .subarray(): contiguous bytes
  'lps-data',
  'lps-pipeline',
]
// JSON payloads: messages/s end to end vs bare JSON.parse of the same payloads.
const JSON_VARIANTS = ['json-ours-sync', 'json-ours-async-batch', 'json-bare-parse']
const VARIANTS = [...FRAMING, ...JSON_VARIANTS]

function mulberry32(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function varint(n) {
  const out = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Buffer.from(out)
}

/** The i-th JSON payload of `size` bytes: an object whose id varies with i, padded exactly. */
function jsonPayload(size, i) {
  if (size <= 256) {
    const head = `{"type":"event","id":${i},"data":"`
    return `${head}${'x'.repeat(size - head.length - 2)}"}`
  }
  const items = []
  let len = 40
  for (let k = 0; len < size - 200; k++) {
    const item = `{"k":"key${k}","v":${(k * 1.5 + i) % 1000},"ok":${k % 2 === 0},"s":[1,2,"three"]}`
    items.push(item)
    len += item.length + 1
  }
  const head = `{"type":"bulk","id":${i},"items":[${items.join(',')}],"pad":"`
  return `${head}${' '.repeat(size - head.length - 2)}"}`
}

const LARGE_JSON_DISTINCT = 1000 // 10,000 distinct 64 KiB strings would not fit the heap

function buildWire({ frames, size }, header, json) {
  const rnd = mulberry32(7)
  const payload = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) payload[i] = (rnd() * 256) | 0
  const distinct = size > 256 ? LARGE_JSON_DISTINCT : frames
  const jsonBufs = json ? [] : undefined
  if (json) for (let f = 0; f < distinct; f++) jsonBufs.push(Buffer.from(jsonPayload(size, f)))
  const h = header(size)
  const wire = Buffer.allocUnsafe(frames * (h.length + size))
  let off = 0
  for (let f = 0; f < frames; f++) {
    off += h.copy(wire, off)
    if (json) off += jsonBufs[f % distinct].copy(wire, off)
    else {
      off += payload.copy(wire, off)
      payload[f % size] ^= 0x5a
    }
  }
  return { wire, jsonBufs }
}

function cutChunks(wire, { min, max }) {
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

async function* asyncSource(chunks) {
  for (let i = 0; i < chunks.length; i++) yield chunks[i]
}

async function runOnce(variant, scenarioName, chunkingName) {
  const scenario = SCENARIOS[scenarioName]
  const chunking = CHUNKINGS[chunkingName]
  const ours = variant.startsWith('ours-') || variant.startsWith('json-')
  const json = variant.startsWith('json-')
  const header = ours ? (n) => Buffer.from(`${n}\n`) : varint
  const { wire, jsonBufs } = buildWire(scenario, header, json)
  const chunks = cutChunks(wire, chunking)
  const lib = await import('../dist/index.js')
  const core = await import('@verb-tcp/core')
  const limit = scenario.size // tight limit, as a real server would set
  let frames = 0
  let bytes = 0
  let t0
  let t1

  if (variant === 'ours-sync') {
    const d = new lib.FrameDecoder({ maxFrameBytes: limit })
    const sink = {
      frame(f) {
        frames++
        bytes += f.length
      },
      error(e) {
        throw e
      },
    }
    t0 = process.hrtime.bigint()
    for (let i = 0; i < chunks.length; i++) d.push(chunks[i], sink)
    d.end(sink)
    t1 = process.hrtime.bigint()
  } else if (variant === 'ours-async' || variant === 'ours-async-batch') {
    const d = new lib.FrameDecoder({ maxFrameBytes: limit })
    t0 = process.hrtime.bigint()
    if (variant === 'ours-async') {
      for await (const f of core.iterateFrames(asyncSource(chunks), d)) {
        frames++
        bytes += f.length
      }
    } else {
      for await (const batch of core.iterateFrames(asyncSource(chunks), d, { batch: true })) {
        for (let i = 0; i < batch.length; i++) {
          frames++
          bytes += batch[i].length
        }
      }
    }
    t1 = process.hrtime.bigint()
  } else if (variant === 'ours-pipeline') {
    const t = core.createDecoderTransform(new lib.FrameDecoder({ maxFrameBytes: limit }))
    const sink = new Writable({
      objectMode: true,
      highWaterMark: 1024,
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
    t0 = process.hrtime.bigint()
    await pipeline(Readable.from(chunks, { objectMode: false }), t, sink)
    t1 = process.hrtime.bigint()
  } else if (variant.startsWith('ilp-')) {
    const lp = await import('it-length-prefixed')
    const opts = { maxDataLength: limit }
    const flat = variant.endsWith('-flat')
    const count = (f) => {
      const u8 = flat ? f.subarray() : f
      frames++
      bytes += u8.byteLength
    }
    t0 = process.hrtime.bigint()
    if (variant.startsWith('ilp-sync')) for (const f of lp.decode(chunks, opts)) count(f)
    else for await (const f of lp.decode(asyncSource(chunks), opts)) count(f)
    t1 = process.hrtime.bigint()
  } else if (variant === 'lps-data') {
    const lps = (await import('length-prefixed-stream')).default
    const dec = lps.decode({ limit })
    const done = new Promise((resolve, reject) => {
      dec.on('data', (f) => {
        frames++
        bytes += f.length
      })
      dec.on('end', resolve)
      dec.on('error', reject)
    })
    t0 = process.hrtime.bigint()
    for (let i = 0; i < chunks.length; i++) {
      if (!dec.write(chunks[i])) await new Promise((resolve) => dec.once('drain', resolve))
    }
    dec.end()
    await done
    t1 = process.hrtime.bigint()
  } else if (variant === 'lps-pipeline') {
    const lps = (await import('length-prefixed-stream')).default
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
    t0 = process.hrtime.bigint()
    await pipeline(Readable.from(chunks, { objectMode: false }), lps.decode({ limit }), sink)
    t1 = process.hrtime.bigint()
  } else if (variant === 'json-ours-sync') {
    const d = new lib.MessageDecoder({ maxFrameBytes: limit })
    const sink = {
      frame(m) {
        frames++
        bytes += m.id
      },
      error(e) {
        throw e
      },
    }
    t0 = process.hrtime.bigint()
    for (let i = 0; i < chunks.length; i++) d.push(chunks[i], sink)
    d.end(sink)
    t1 = process.hrtime.bigint()
  } else if (variant === 'json-ours-async-batch') {
    const d = new lib.MessageDecoder({ maxFrameBytes: limit })
    t0 = process.hrtime.bigint()
    for await (const batch of core.iterateFrames(asyncSource(chunks), d, { batch: true })) {
      for (let i = 0; i < batch.length; i++) {
        frames++
        bytes += batch[i].id
      }
    }
    t1 = process.hrtime.bigint()
  } else if (variant === 'json-bare-parse') {
    // The floor: JSON.parse alone, on the same payloads already decoded to strings (untimed).
    const strings = jsonBufs.map((b) => b.toString('utf8'))
    const n = strings.length
    t0 = process.hrtime.bigint()
    for (let f = 0; f < scenario.frames; f++) {
      frames++
      bytes += JSON.parse(strings[f % n]).id
    }
    t1 = process.hrtime.bigint()
  } else throw new Error(`unknown variant ${variant}`)

  // JSON variants sum the ids instead of byte counts, to use every parsed message.
  const distinct = json ? (scenario.size > 256 ? LARGE_JSON_DISTINCT : scenario.frames) : 0
  let expectedBytes = scenario.frames * scenario.size
  if (json) {
    expectedBytes = 0
    for (let f = 0; f < scenario.frames; f++) expectedBytes += f % distinct
  }
  const sec = Number(t1 - t0) / 1e9
  return {
    variant,
    scenario: scenarioName,
    chunking: chunkingName,
    chunks: chunks.length,
    ok: frames === scenario.frames && bytes === expectedBytes,
    frames,
    sec,
    framesPerSec: frames / sec,
    wireMBps: wire.length / sec / 1e6,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmt = (n, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
const si = (n) => (n >= 1e6 ? `${fmt(n / 1e6, 2)} M` : n >= 1e3 ? `${fmt(n / 1e3, 1)} k` : fmt(n))

function arg(args, name, fallback) {
  const at = args.indexOf(name)
  return at === -1 ? fallback : args[at + 1]
}

async function main() {
  const args = process.argv.slice(2)
  const childAt = args.indexOf('--child')
  if (childAt !== -1) {
    const [variant, scenario, chunking] = args.slice(childAt + 1)
    const r = await runOnce(variant, scenario, chunking)
    process.stdout.write(`${JSON.stringify(r)}\n`)
    process.exit(r.ok ? 0 : 2)
  }
  const runs = Number(arg(args, '--runs', '5'))
  const variants = arg(args, '--only', VARIANTS.join(',')).split(',')
  const scenarios = arg(args, '--scenario', Object.keys(SCENARIOS).join(',')).split(',')
  const chunkings = arg(args, '--chunking', Object.keys(CHUNKINGS).join(',')).split(',')
  const self = fileURLToPath(import.meta.url)
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
    for (const chunking of chunkings) {
      const results = Object.fromEntries(variants.map((v) => [v, []]))
      for (let r = 0; r < runs; r++) {
        for (const variant of variants) {
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
      for (const variant of variants) {
        const list = results[variant].filter(Boolean)
        if (list.length === 0) continue
        const fps = list.map((x) => x.framesPerSec)
        cells[`${scenario}/${chunking}/${variant}`] = results[variant]
        console.log(
          `| ${scenario} | ${chunking} (${fmt(list[0].chunks)} chunks) | ${variant} | ${si(median(fps))} (${si(Math.min(...fps))}–${si(Math.max(...fps))}) | ${fmt(median(list.map((x) => x.wireMBps)))} | ${fmt(median(list.map((x) => x.maxRssMiB)))} | ${list.filter((x) => x.ok).length}/${runs} |`,
        )
      }
    }
  }
  printRatios(cells, scenarios, chunkings, runs)
}

/** Ratio of medians, plus the spread of per-run ratios (run i of ours over run i of the peer). */
function ratio(cells, key, ours, peers) {
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

function printRatios(cells, scenarios, chunkings) {
  const floors = [
    [
      'small',
      'sync core vs best peer',
      'ours-sync',
      ['ilp-sync', 'ilp-async', 'ilp-async-flat', 'ilp-sync-flat', 'lps-data', 'lps-pipeline'],
      1.25,
    ],
    ['small', 'async iterator vs ilp-async', 'ours-async', ['ilp-async'], 2],
    ['small', 'async iterator (batch) vs ilp-async', 'ours-async-batch', ['ilp-async'], 2],
    [
      'large',
      'contiguous frames (sync) vs best contiguous peer',
      'ours-sync',
      ['ilp-sync-flat', 'ilp-async-flat', 'lps-data', 'lps-pipeline'],
      1,
    ],
    [
      'large',
      'contiguous frames (async batch) vs best contiguous peer',
      'ours-async-batch',
      ['ilp-sync-flat', 'ilp-async-flat', 'lps-data', 'lps-pipeline'],
      1,
    ],
    [
      'small',
      'JSON end to end (sync) vs bare JSON.parse',
      'json-ours-sync',
      ['json-bare-parse'],
      0.9,
    ],
    [
      'small',
      'JSON end to end (async batch) vs bare JSON.parse',
      'json-ours-async-batch',
      ['json-bare-parse'],
      0.9,
    ],
    [
      'large',
      'JSON end to end (sync) vs bare JSON.parse',
      'json-ours-sync',
      ['json-bare-parse'],
      0.9,
    ],
    [
      'large',
      'JSON end to end (async batch) vs bare JSON.parse',
      'json-ours-async-batch',
      ['json-bare-parse'],
      0.9,
    ],
  ]
  console.log(
    '\n| scenario | chunking | floor | against | ratio of medians (per-run min–max) | floor | met |',
  )
  console.log('|---|---|---|---|---:|---:|---|')
  for (const [scenario, label, ours, peers, floor] of floors) {
    if (!scenarios.includes(scenario)) continue
    for (const chunking of chunkings) {
      const r = ratio(cells, `${scenario}/${chunking}`, ours, peers)
      if (r === undefined) continue
      console.log(
        `| ${scenario} | ${chunking} | ${label} | ${r.best} | ${fmt(r.value, 2)}× (${fmt(r.min, 2)}–${fmt(r.max, 2)}) | ${floor}× | ${r.value >= floor ? 'yes' : 'NO'} |`,
      )
    }
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
