// Throughput, CPU and receiver memory of @verb-tcp/mux against @chainsafe/libp2p-yamux,
// @libp2p/mplex and raw TCP, in the same run, over loopback:
//   single : 1 stream sends 256 MiB
//   multi  : 100 concurrent streams each send 2 MiB (raw: 100 sockets)
//   stalled: 100 streams whose reader never reads; the sender writes until its writes stop
//            completing (or 2 MiB per stream); the receiver's memory is measured after a GC
//
// Each implementation gets its own long-lived sender process and receiver process (bench/
// peer.mjs), which load only that implementation's modules and move bytes with the same loop.
// This process only coordinates over IPC and loads nothing that is measured. Every pair is
// warmed up, then the implementations take turns round by round (each round starting with a
// different one), so load from other work on the machine hits them alike, and one pair idles
// while another runs. A run ends when the receiver has counted every byte of every stream,
// replied with its count and both sides have closed. Reported: median MB/s (1 MB = 10^6 bytes),
// the median of the per-round ratios verb ÷ impl (the runs of a round are back to back), and
// CPU ms per GiB of sender + receiver (user + system), also as per-round ratios.
//
// Usage (from packages/mux, after the build; `npm test` at the root builds it):
//   node bench/run.mjs [--runs 15] [--warmup 6] [--impl verb,yamux,mplex,raw,raw-batched]
//                      [--scenario single,multi,stalled] [--scale 1] [--quick]
//                      [--shared] [--base DIR] [--profile verb,mplex] [--receiver-args FLAGS]
//                      [--cpu-kind total|user|system|faults]
// --scale N multiplies the bytes each stream sends. --quick is --runs 5 --warmup 1 --scale 0.25.
// --shared hosts every implementation in ONE sender and ONE receiver process, the setup this
// benchmark used to have, kept to show how it misleads (see the README).
// --base DIR adds implementation 'verb-base', another build of this package (a copy of dist/
// inside the package, so that it still resolves @verb-tcp/core), for A/B runs:
//   cp -r dist node_modules/.mux-base && <change, build> &&
//   node bench/run.mjs --impl verb,verb-base,raw --base node_modules/.mux-base

import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const argv = process.argv.slice(2)
function arg(name, dflt) {
  const i = argv.indexOf(`--${name}`)
  if (i === -1) return dflt
  const v = argv[i + 1]
  return v === undefined || v.startsWith('--') ? true : v
}
const QUICK = arg('quick', false) === true
const RUNS = Number(arg('runs', QUICK ? 5 : 15))
const WARMUP = Number(arg('warmup', QUICK ? 1 : 6))
const SCALE = Number(arg('scale', QUICK ? 0.25 : 1))
const IMPLS = String(arg('impl', 'verb,yamux,mplex,raw,raw-batched')).split(',')
const SCENARIOS = String(arg('scenario', 'single,multi,stalled')).split(',')
const CHUNK = Number(arg('chunk', 64 * 1024))
const SHARED = arg('shared', false) === true
const BASE = arg('base', undefined)
const STALL_CAP = Number(arg('stall-cap', 2 * 1024 * 1024))
// --profile verb,mplex writes a V8 CPU profile of those implementations' receivers to --profile-dir.
const PROFILE = String(arg('profile', '')).split(',').filter(Boolean)
const PROFILE_DIR = String(arg('profile-dir', 'bench-profiles'))
// --cpu-kind user|system|faults: the "CPU ms/GiB" columns count only user or system time, or
// (faults) minor page faults per GiB instead.
const CPU_KIND = String(arg('cpu-kind', 'total'))
// --receiver-args "--trace-gc --trace-deopt" passes Node/V8 flags to every receiver process.
// (Its value starts with '--', so it is read as it is, not through arg().)
const RECEIVER_ARGS = (
  argv.includes('--receiver-args') ? (argv[argv.indexOf('--receiver-args') + 1] ?? '') : ''
)
  .split(' ')
  .filter(Boolean)

const SCENARIO_DEFS = {
  single: { streams: 1, bytes: Math.round(SCALE * 256 * 1024 * 1024) },
  multi: { streams: 100, bytes: Math.round(SCALE * 2 * 1024 * 1024) },
}
const PEER = fileURLToPath(new URL('./peer.mjs', import.meta.url))

function spawnPeer(role, impls) {
  const args = ['--role', role, '--impl', impls.join(','), '--chunk', String(CHUNK)]
  args.push('--cpu-kind', CPU_KIND)
  if (typeof BASE === 'string') args.push('--base', BASE)
  const profile =
    role === 'receiver' && impls.some((i) => PROFILE.includes(i))
      ? [
          '--cpu-prof',
          `--cpu-prof-dir=${PROFILE_DIR}`,
          `--cpu-prof-name=receiver-${impls.join('-')}.cpuprofile`,
        ]
      : []
  const child = fork(PEER, args, {
    stdio: 'inherit',
    execArgv: role === 'receiver' ? ['--expose-gc', ...RECEIVER_ARGS, ...profile] : [],
  })
  return child
}

async function request(child, message, key) {
  child.send(message)
  for (;;) {
    const [m] = await once(child, 'message')
    if (m?.error) throw new Error(`${message.cmd} failed in a peer: ${m.error}`)
    if (m && key in m) return m[key]
  }
}

/** One sender and one receiver per implementation (or one of each for all, with --shared). */
async function startPairs() {
  const groups = SHARED ? [IMPLS] : IMPLS.map((i) => [i])
  const pairs = new Map()
  for (const impls of groups) {
    const receiver = spawnPeer('receiver', impls)
    const sender = spawnPeer('sender', impls)
    const [[{ ports }], [{ ready }]] = await Promise.all([
      once(receiver, 'message'),
      once(sender, 'message'),
    ])
    if (!ready) throw new Error('sender did not start')
    for (const impl of impls) pairs.set(impl, { receiver, sender, port: ports[impl] })
  }
  return pairs
}

async function runOnce(pair, impl, scenario) {
  const { streams, bytes } = SCENARIO_DEFS[scenario]
  pair.receiver.send({ cmd: 'cpu' })
  const [{ cpu: rc0, reads: reads0 }] = await once(pair.receiver, 'message')
  const r = await request(
    pair.sender,
    { cmd: 'run', impl, port: pair.port, streams, bytes },
    'result',
  )
  pair.receiver.send({ cmd: 'cpu' })
  const [{ cpu: rc1, reads: reads1 }] = await once(pair.receiver, 'message')
  const rc = rc1 - rc0
  const gib = (streams * bytes) / 2 ** 30
  return {
    mbps: (streams * bytes) / r.secs / 1e6,
    sendCpu: r.cpu / gib,
    recvCpu: rc / gib,
    cpu: (r.cpu + rc) / gib,
    // Mean bytes per socket read at the receiver: small reads mean the sender ran dry.
    readKiB: (streams * bytes) / Math.max(1, reads1 - reads0) / 1024,
  }
}

function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  const at = (s.length - 1) * q
  const lo = Math.floor(at)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo)
}
const median = (xs) => quantile(xs, 0.5)
const f0 = (x) => x.toFixed(0)
const f2 = (x) => `${x.toFixed(2)}×`

async function stalled(pairs) {
  console.log(
    `\nstalled: 100 streams, reader never reads; the sender writes up to ${STALL_CAP / 2 ** 20} MiB per stream, until its writes stop completing (300 ms)`,
  )
  console.log(
    '| impl | bytes the sender handed over, MiB | receiver holds (heap + ArrayBuffers) MiB | verb unread MiB |',
  )
  console.log('| --- | ---: | ---: | ---: |')
  const live = (m) => m.heapUsed + m.arrayBuffers
  for (const impl of IMPLS) {
    const pair = pairs.get(impl)
    await request(pair.receiver, { cmd: 'stall', on: true }, 'ok')
    const { accepted } = await request(
      pair.sender,
      { cmd: 'stall', impl, port: pair.port, streams: 100, capBytes: STALL_CAP, quietMs: 300 },
      'stalled',
    )
    await new Promise((r) => setTimeout(r, 500)) // what is in flight lands
    const held = await request(pair.receiver, { cmd: 'memory' }, 'memory')
    await request(pair.sender, { cmd: 'unstall' }, 'ok')
    await request(pair.receiver, { cmd: 'release' }, 'ok')
    await request(pair.receiver, { cmd: 'stall', on: false }, 'ok')
    await new Promise((r) => setTimeout(r, 200))
    const released = await request(pair.receiver, { cmd: 'memory' }, 'memory')
    const mib = (x) => (x / 2 ** 20).toFixed(1)
    // Held minus released: the memory the stalled streams kept, in the same process state.
    console.log(
      `| ${impl} | ${mib(accepted)} | ${mib(live(held) - live(released))} | ${impl.startsWith('verb') ? mib(held.buffered) : '-'} |`,
    )
  }
}

async function main() {
  const pairs = await startPairs()
  console.log(
    `node ${process.version}; ${SHARED ? 'ONE shared sender and receiver process for all implementations (--shared)' : 'a sender and a receiver process per implementation'}; ` +
      `write chunk ${CHUNK} B; ${RUNS} rounds after ${WARMUP} warm-up runs each; scale ${SCALE}`,
  )
  const rows = []
  for (const scenario of SCENARIOS.filter((s) => s in SCENARIO_DEFS)) {
    for (const impl of IMPLS) {
      for (let i = 0; i < WARMUP; i++) await runOnce(pairs.get(impl), impl, scenario)
    }
    const byImpl = new Map(IMPLS.map((impl) => [impl, []]))
    for (let i = 0; i < RUNS; i++) {
      const order = IMPLS.map((_, k) => IMPLS[(i + k) % IMPLS.length])
      for (const impl of order) {
        const r = await runOnce(pairs.get(impl), impl, scenario)
        byImpl.get(impl)[i] = r
        console.log(
          `  ${scenario.padEnd(6)} ${impl.padEnd(5)} round ${i + 1}: ${r.mbps.toFixed(0)} MB/s, ` +
            `cpu ms/GiB send ${f0(r.sendCpu)} recv ${f0(r.recvCpu)}, ${r.readKiB.toFixed(1)} KiB per read`,
        )
      }
    }
    const ours = byImpl.get('verb')
    for (const [impl, runs] of byImpl) {
      rows.push({
        scenario,
        impl,
        median: median(runs.map((r) => r.mbps)),
        q1: quantile(
          runs.map((r) => r.mbps),
          0.25,
        ),
        q3: quantile(
          runs.map((r) => r.mbps),
          0.75,
        ),
        ratio: ours ? median(runs.map((r, i) => ours[i].mbps / r.mbps)) : Number.NaN,
        ratioMin: ours ? Math.min(...runs.map((r, i) => ours[i].mbps / r.mbps)) : Number.NaN,
        ratioMax: ours ? Math.max(...runs.map((r, i) => ours[i].mbps / r.mbps)) : Number.NaN,
        sendCpu: median(runs.map((r) => r.sendCpu)),
        recvCpu: median(runs.map((r) => r.recvCpu)),
        cpu: median(runs.map((r) => r.cpu)),
        cpuRatio: ours ? median(runs.map((r, i) => ours[i].cpu / r.cpu)) : Number.NaN,
        runs: runs.map((r) => r.mbps),
      })
    }
  }
  if (rows.length > 0) {
    console.log(
      '\n| scenario | impl | median MB/s | IQR MB/s | verb ÷ impl MB/s (median of per-round ratios; min–max) | send CPU ms/GiB | recv CPU ms/GiB | send+recv | verb ÷ impl CPU (per-round median) |',
    )
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for (const r of rows) {
      const ratio = Number.isNaN(r.ratio)
        ? '-'
        : `${f2(r.ratio)} (${r.ratioMin.toFixed(2)}–${r.ratioMax.toFixed(2)})`
      console.log(
        `| ${r.scenario} | ${r.impl} | ${f0(r.median)} | ${f0(r.q1)}–${f0(r.q3)} | ${ratio} | ` +
          `${f0(r.sendCpu)} | ${f0(r.recvCpu)} | ${f0(r.cpu)} | ${Number.isNaN(r.cpuRatio) ? '-' : f2(r.cpuRatio)} |`,
      )
    }
    console.log('\nMB/s by round:')
    for (const r of rows) console.log(`  ${r.scenario} ${r.impl}: ${r.runs.map(f0).join(' / ')}`)
  }
  if (SCENARIOS.includes('stalled')) await stalled(pairs)
  // A disconnect lets the peers exit by themselves, so profiles get written.
  const exits = []
  for (const { receiver, sender } of new Set(pairs.values())) {
    exits.push(once(receiver, 'exit'), once(sender, 'exit'))
    receiver.disconnect()
    sender.disconnect()
  }
  await Promise.all(exits)
  process.exit(0)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
