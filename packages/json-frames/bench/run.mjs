// Decode throughput of @verb-tcp/json-frames against the peers it replaces, in the same run on
// the same payloads:
//   1,000,000 x 64 B frames and 10,000 x 64 KiB frames, cut into seeded random chunks of
//   1-65,536 bytes (tcp) and 1-1,460 bytes (mtu). Each measured run is its own node process;
//   variants are interleaved run by run so machine noise hits all of them alike.
//   The generic part (inputs, chunking, peers, timing, tables, --base) is @verb-tcp/bench-harness.
//
// Peers use a varint length prefix, we use "<decimal>\n": the payloads are identical, the wire
// differs by the header (3 vs 1 bytes for 64 B frames, 6 vs 3 for 64 KiB), and the same seeded
// chunk-size sequence is applied to each wire.
//
// Usage (after `pnpm build`):
//   node bench/run.mjs                       # everything, 5 runs per cell
//   node bench/run.mjs --runs 3 --scenario small --chunking tcp
//   node bench/run.mjs --only ours-sync,lps-data
//   node bench/run.mjs --only ours-sync,json-ours-sync --base ../other-checkout/packages/json-frames   # A/B
//   node bench/run.mjs --only ours-sync --passes 5 --base DIR --aa   # A/B and A/A in one run, fastest of 5 passes
//   node bench/run.mjs --child <variant> <scenario> <chunking>   # one run, prints JSON

import process from 'node:process'
import {
  asyncSource,
  buildWire,
  CHUNKINGS,
  CONTIGUOUS_PEERS,
  cutChunks,
  fastestPass,
  loadBuild,
  PEER_VARIANTS,
  polyfillWithResolvers,
  result,
  runBench,
  runOursFraming,
  runPeer,
  SCENARIOS,
  varint,
} from '@verb-tcp/bench-harness'

polyfillWithResolvers()

// Binary payloads: frames/s of the framing alone.
const FRAMING = [
  'ours-sync', // FrameDecoder.push over the chunk array
  'ours-async', // iterateFrames over an async iterable, one frame per next()
  'ours-async-batch', // the same with { batch: true }
  'ours-pipeline', // createDecoderTransform inside stream.pipeline
  ...PEER_VARIANTS,
]
// JSON payloads: messages/s end to end vs bare JSON.parse of the same payloads, two ways:
// json-bare-parse parses strings decoded before the clock starts (JSON.parse alone);
// json-bare-parse-bytes calls JSON.parse on each payload's bytes, which decodes them as it must
// (leniently: invalid UTF-8 becomes U+FFFD), and is what code without a framing library does.
const JSON_VARIANTS = [
  'json-ours-sync',
  'json-ours-async-batch',
  'json-bare-parse',
  'json-bare-parse-bytes',
]
const VARIANTS = [...FRAMING, ...JSON_VARIANTS]

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

const imports = {
  ilp: () => import('it-length-prefixed'),
  lps: () => import('length-prefixed-stream'),
}

async function runOnce(variant, scenarioName, chunkingName) {
  const scenario = SCENARIOS[scenarioName]
  const chunking = CHUNKINGS[chunkingName]
  const ours = variant.startsWith('ours-') || variant.startsWith('json-')
  const json = variant.startsWith('json-')
  const header = ours ? (n) => Buffer.from(`${n}\n`) : varint
  const distinct = json ? (scenario.size > 256 ? LARGE_JSON_DISTINCT : scenario.frames) : 0
  const jsonBufs = json ? [] : undefined
  if (json)
    for (let f = 0; f < distinct; f++) jsonBufs.push(Buffer.from(jsonPayload(scenario.size, f)))
  const wire = buildWire(scenario, header, json ? (f) => jsonBufs[f % distinct] : undefined)
  const chunks = cutChunks(wire, chunking)
  const { lib, codec } = await loadBuild(import.meta.url)
  const limit = scenario.size // tight limit, as a real server would set
  let run =
    (await runOursFraming(
      variant,
      chunks,
      () => new lib.FrameDecoder({ maxFrameBytes: limit }),
      (f) => f.length,
      codec,
    )) ?? (await runPeer(variant, chunks, limit, imports))

  if (run === undefined) {
    let frames = 0
    let bytes = 0
    let t0
    let t1
    if (variant === 'json-ours-sync') {
      run = fastestPass(() => {
        let frames = 0
        let bytes = 0
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
        const t0 = process.hrtime.bigint()
        for (let i = 0; i < chunks.length; i++) d.push(chunks[i], sink)
        d.end(sink)
        const t1 = process.hrtime.bigint()
        return { frames, bytes, t0, t1 }
      })
    } else if (variant === 'json-ours-async-batch') {
      const d = new lib.MessageDecoder({ maxFrameBytes: limit })
      t0 = process.hrtime.bigint()
      for await (const batch of codec.iterateFrames(asyncSource(chunks), d, { batch: true })) {
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
    } else if (variant === 'json-bare-parse-bytes') {
      const n = jsonBufs.length
      t0 = process.hrtime.bigint()
      for (let f = 0; f < scenario.frames; f++) {
        frames++
        bytes += JSON.parse(jsonBufs[f % n]).id
      }
      t1 = process.hrtime.bigint()
    } else throw new Error(`unknown variant ${variant}`)
    run ??= { frames, bytes, t0, t1 }
  }

  // JSON variants sum the ids instead of byte counts, to use every parsed message.
  let expectedBytes = scenario.frames * scenario.size
  if (json) {
    expectedBytes = 0
    for (let f = 0; f < scenario.frames; f++) expectedBytes += f % distinct
  }
  return result({
    variant,
    scenario: scenarioName,
    chunking: chunkingName,
    chunks: chunks.length,
    ok: run.frames === scenario.frames && run.bytes === expectedBytes,
    frames: run.frames,
    t0: run.t0,
    t1: run.t1,
    wireBytes: wire.length,
  })
}

const ALL_PEERS = [
  'ilp-sync',
  'ilp-async',
  'ilp-async-flat',
  'ilp-sync-flat',
  'lps-data',
  'lps-pipeline',
]

runBench({
  url: import.meta.url,
  variants: VARIANTS,
  scenarios: Object.keys(SCENARIOS),
  chunkings: Object.keys(CHUNKINGS),
  runs: 5,
  runOnce,
  floors: [
    ['small', 'sync core vs best peer', 'ours-sync', ALL_PEERS, 1.25],
    ['small', 'async iterator vs ilp-async', 'ours-async', ['ilp-async'], 2],
    ['small', 'async iterator (batch) vs ilp-async', 'ours-async-batch', ['ilp-async'], 2],
    ['large', 'contiguous frames (sync) vs best contiguous peer', 'ours-sync', CONTIGUOUS_PEERS, 1],
    [
      'large',
      'contiguous frames (async batch) vs best contiguous peer',
      'ours-async-batch',
      CONTIGUOUS_PEERS,
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
      'JSON end to end (sync) vs JSON.parse(payload bytes)',
      'json-ours-sync',
      ['json-bare-parse-bytes'],
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
      'small',
      'JSON end to end (async batch) vs JSON.parse(payload bytes)',
      'json-ours-async-batch',
      ['json-bare-parse-bytes'],
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
      'JSON end to end (sync) vs JSON.parse(payload bytes)',
      'json-ours-sync',
      ['json-bare-parse-bytes'],
      0.9,
    ],
    [
      'large',
      'JSON end to end (async batch) vs bare JSON.parse',
      'json-ours-async-batch',
      ['json-bare-parse'],
      0.9,
    ],
    [
      'large',
      'JSON end to end (async batch) vs JSON.parse(payload bytes)',
      'json-ours-async-batch',
      ['json-bare-parse-bytes'],
      0.9,
    ],
  ],
}).catch((err) => {
  console.error(err)
  process.exit(1)
})
