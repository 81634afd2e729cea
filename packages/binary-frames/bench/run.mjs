// Throughput of @verb-tcp/binary-frames against the peers it replaces, in the same run on the
// same payloads, on the shared harness (@verb-tcp/bench-harness, a private workspace package):
//   decode: 1,000,000 x 64 B frames and 10,000 x 64 KiB frames, cut into seeded random chunks
//     of 1-65,536 bytes (tcp) and 1-1,460 bytes (mtu); only decoding is timed;
//   send: 1 GiB as 16,384 x 64 KiB payloads over loopback, sendBinaryMessage against the same
//     payloads written raw with socket.write, until the receiver (a child process) has every byte;
//     64 MiB go first, untimed, to warm both up alike.
// Each measured run is its own node process; variants are interleaved run by run so machine
// noise hits all of them alike.
//
// Peers use a varint length prefix (1 byte for 64 B, 3 for 64 KiB), we use the 8-byte header:
// the payloads are identical, and the same seeded chunk-size sequence is applied to each wire.
//
// Usage (after `pnpm build`):
//   node bench/run.mjs              # the default set, 3 runs per cell (about 2 minutes)
//   node bench/run.mjs --full       # every variant and chunking, 5 runs per cell
//   node bench/run.mjs --runs 5 --scenario small --chunking tcp --only ours-sync,lps-data
//   node bench/run.mjs --only ours-sync --base ../other-checkout/packages/binary-frames   # A/B
//   node bench/run.mjs --only ours-sync --passes 5 --base DIR --aa   # A/B and A/A in one run, fastest of 5 passes
//   node bench/run.mjs --child <variant> <scenario> <chunking>   # one run, prints JSON

import { fork } from 'node:child_process'
import { once } from 'node:events'
import { createServer, connect as netConnect } from 'node:net'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import {
  buildWire,
  CHUNKINGS,
  CONTIGUOUS_PEERS,
  cutChunks,
  loadBuild,
  mulberry32,
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

const OURS = [
  'ours-sync', // BinaryFrameDecoder.push over the chunk array
  'ours-async', // iterateFrames over an async iterable, one frame per next()
  'ours-async-batch', // the same with { batch: true }
  'ours-pipeline', // createDecoderTransform inside stream.pipeline
]
const SEND = [
  'send-ours', // BinaryProtocolHandler.sendBinaryMessage; the receiver counts bytes
  'send-ours-write', // writeFrame(socket, …) without a handler
  'send-raw', // the same payloads through socket.write, no framing
  'send-raw-frames', // the same wire bytes, encoded beforehand, through socket.write
  'send-ours-decoded', // as send-ours, and the receiver decodes with a BinaryProtocolHandler
]
const ALL_SCENARIOS = { ...SCENARIOS, send: { frames: 16_384, size: 64 * 1024 } }
const full = process.argv.includes('--full')

// The default set keeps a run near two minutes on a 2-core machine: every floor's variants, the
// strongest peers; --full adds the rest.
const DEFAULT_VARIANTS = {
  small: [
    'ours-sync',
    'ours-async',
    'ours-async-batch',
    'ilp-sync',
    'ilp-async',
    'lps-data',
    'lps-pipeline',
  ],
  large: ['ours-sync', 'ours-async-batch', 'ilp-sync-flat', 'ilp-async-flat', 'lps-data'],
  send: SEND,
}
const DEFAULT_CHUNKINGS = { small: ['tcp', 'mtu'], large: ['tcp', 'mtu'], send: ['loopback'] }

const imports = {
  ilp: () => import('it-length-prefixed'),
  lps: () => import('length-prefixed-stream'),
}

const WARMUP_FRAMES = 1024 // 64 MiB sent untimed first, the same for every send variant

/**
 * The receiving end of a send run, in its own process (as a server's peer would be) so the
 * sender's event loop is not shared with the receiver's: counts bytes, or decodes frames with a
 * BinaryProtocolHandler for send-ours-decoded, and acknowledges each phase with one byte.
 */
async function receiver(variant, size, phases) {
  const lib = await import('../dist/index.js')
  const server = createServer((socket) => {
    let received = 0
    let phase = 0
    const arrived = (n) => {
      received += n
      while (phase < phases.length && received >= phases[phase]) {
        received -= phases[phase++]
        socket.write('k')
      }
    }
    socket.on('error', () => {})
    if (variant === 'send-ours-decoded') {
      const h = new lib.BinaryProtocolHandler(socket, { maxFrameBytes: size })
      h.on(lib.DATA, (f) => arrived(f.payload.length + 8))
    } else {
      socket.on('data', (d) => arrived(d.length))
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  process.send(server.address().port)
  process.on('disconnect', () => process.exit(0))
}

async function runSend(variant, scenario, lib) {
  const { frames, size } = scenario
  const rnd = mulberry32(7)
  const payload = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) payload[i] = (rnd() * 256) | 0
  const framed = variant !== 'send-raw'
  const perFrame = size + (framed ? 8 : 0)
  const phases = [WARMUP_FRAMES * perFrame, frames * perFrame]
  const child = fork(fileURLToPath(import.meta.url), [
    '--receiver',
    variant,
    String(size),
    ...phases.map(String),
  ])
  const [port] = await once(child, 'message')
  const socket = netConnect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.setNoDelay(true)
  const acks = []
  let ackWaiter
  socket.on('data', (d) => {
    for (let i = 0; i < d.length; i++) acks.push(1)
    ackWaiter?.()
  })
  const handler =
    framed && variant !== 'send-ours-write' && variant !== 'send-raw-frames'
      ? new lib.BinaryProtocolHandler(socket, { maxSendBytes: size })
      : undefined
  const encoded = lib.encodeFrame(lib.DATA, payload, 0, { maxFrameBytes: size })
  const write =
    variant === 'send-raw-frames'
      ? () => socket.write(encoded)
      : framed
        ? (p) => lib.writeFrame(socket, lib.DATA, p, 0, { maxFrameBytes: size })
        : (p) => socket.write(p)
  const send = async (n) => {
    for (let f = 0; f < n; f++) {
      const ok = handler ? handler.sendBinaryMessage(lib.DATA, payload) : write(payload)
      if (!ok) await once(socket, 'drain')
    }
    // Done when the receiver says it has every byte of this phase.
    while (acks.length === 0) await new Promise((resolve) => (ackWaiter = resolve))
    acks.pop()
    return n * perFrame
  }
  await send(WARMUP_FRAMES)
  const t0 = process.hrtime.bigint()
  const bytes = await send(frames)
  const t1 = process.hrtime.bigint()
  socket.destroy()
  child.disconnect()
  return { frames, bytes, expectedBytes: frames * perFrame, t0, t1, writes: frames }
}

async function runOnce(variant, scenarioName, chunkingName) {
  const scenario = ALL_SCENARIOS[scenarioName]
  const { lib, codec } = await loadBuild(import.meta.url)
  if (scenarioName === 'send') {
    const r = await runSend(variant, scenario, lib)
    return result({
      variant,
      scenario: scenarioName,
      chunking: chunkingName,
      chunks: r.writes,
      ok: r.bytes === r.expectedBytes,
      frames: r.frames,
      t0: r.t0,
      t1: r.t1,
      wireBytes: r.expectedBytes,
    })
  }
  const chunking = CHUNKINGS[chunkingName]
  const ours = variant.startsWith('ours-')
  const header = ours ? (n) => lib.encodeHeader(lib.DATA, n, 0) : varint
  const wire = buildWire(scenario, header)
  const chunks = cutChunks(wire, chunking)
  const limit = scenario.size // tight limit, as a real server would set
  const run =
    (await runOursFraming(
      variant,
      chunks,
      () => new lib.BinaryFrameDecoder({ maxFrameBytes: limit }),
      (f) => f.payload.length,
      codec,
    )) ?? (await runPeer(variant, chunks, limit, imports))
  if (run === undefined) throw new Error(`unknown variant ${variant}`)
  return result({
    variant,
    scenario: scenarioName,
    chunking: chunkingName,
    chunks: chunks.length,
    ok: run.frames === scenario.frames && run.bytes === scenario.frames * scenario.size,
    frames: run.frames,
    t0: run.t0,
    t1: run.t1,
    wireBytes: wire.length,
  })
}

const ALL_PEERS = PEER_VARIANTS
const ASYNC_CONTIGUOUS_PEERS = CONTIGUOUS_PEERS.filter((p) => p !== 'ilp-sync-flat')

const receiverAt = process.argv.indexOf('--receiver')
if (receiverAt !== -1) {
  const [variant, size, ...phases] = process.argv.slice(receiverAt + 1)
  await receiver(variant, Number(size), phases.map(Number))
} else {
  runBench({
    url: import.meta.url,
    variants: [...OURS, ...PEER_VARIANTS, ...SEND],
    scenarios: Object.keys(ALL_SCENARIOS),
    chunkings: Object.keys(CHUNKINGS),
    runs: full ? 5 : 3,
    variantsFor: (s) =>
      s === 'send' ? SEND : full ? [...OURS, ...PEER_VARIANTS] : DEFAULT_VARIANTS[s],
    chunkingsFor: (s) => (s === 'send' ? ['loopback'] : full ? undefined : DEFAULT_CHUNKINGS[s]),
    runOnce,
    floors: [
      ['small', 'sync core vs best peer', 'ours-sync', ALL_PEERS, 1.25],
      ['small', 'async iterator vs ilp-async', 'ours-async', ['ilp-async'], 2],
      ['small', 'async iterator (batch) vs ilp-async', 'ours-async-batch', ['ilp-async'], 2],
      [
        'large',
        'contiguous frames (sync) vs best contiguous peer',
        'ours-sync',
        CONTIGUOUS_PEERS,
        1,
      ],
      // An async consumer against the async peers: ilp-sync-flat never awaits between chunks.
      [
        'large',
        'contiguous frames (async batch) vs best async contiguous peer',
        'ours-async-batch',
        ASYNC_CONTIGUOUS_PEERS,
        1,
      ],
      ['send', '1 GiB in 64 KiB payloads vs raw socket.write', 'send-ours', ['send-raw'], 0.9],
      ['send', 'the same, writeFrame without a handler', 'send-ours-write', ['send-raw'], 0.9],
    ],
  }).catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
