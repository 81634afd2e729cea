// Disk-to-disk upload throughput over loopback. Implementations:
//   fast     this package's fast path (binary frames, SHA-256 end to end, fsync + atomic publish);
//   raw      a raw TCP pipe, createReadStream().pipe(socket) into createWriteStream (no hash, no fsync);
//   rawsha   the raw pipe hashing SHA-256 on both ends in the I/O thread, digests compared;
//   rawworker the raw pipe with SHA-256 on a worker thread on both ends, digests compared (no
//            fsync);
//   tus      @tus/server + @tus/file-store over HTTP (POST, then one PATCH, no checksum);
//   base64   the docs-compatible path, driven by a docs-style client.
// Experiments: fastbuffered (the receiver writing through the page cache, without direct writes),
// fastjoin (the receiver joining each chunk, without binary-frames' `slices`), fast2m and fast4m (2
// and 4 MiB chunks); FT_CHUNK and FT_WINDOW set the fast sender's chunkBytes and windowBytes, and
// FT_TIMELINE=1 prints its start, data and publish phases.
//
// Sender and receiver are separate processes, forked fresh for every run; implementations are
// interleaved run by run (the order rotates), and every run starts from the same state (see
// prepare()). The summary is the median MB/s of each and medians (and ranges) of the per-run
// ratios (runs paired by index). Each line also shows the CPU time both processes used (all
// their threads), the receiver's peak RSS (no file is held in memory) and page faults.
//
// Usage (after `npm run build`; on a machine doing nothing else, since it measures throughput):
//   node bench/run.mjs [--size 1g] [--runs 3] [--impl fast,raw,rawworker,tus,...] [--dir /tmp]
//                      [--prime BYTES] [--profile DIR]
// The source and received files live in a temp directory under --dir (same disk) and are
// deleted at the end.
import { execFileSync, fork } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { once } from 'node:events'
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const argv = process.argv.slice(2)
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`)
  return i === -1 ? fallback : argv[i + 1]
}
const parseSize = (text) => {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(text)
  if (!m) throw new Error(`bad size ${text}`)
  return Math.round(Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()))
}
const size = parseSize(arg('size', '1g'))
const runs = Number(arg('runs', '3'))
const impls = arg('impl', 'fast,raw,rawsha,tus,base64').split(',')
// --profile DIR: V8 CPU profiles of every sender and receiver, for looking, not for timing.
const PROFILE = arg('profile', undefined)
const here = fileURLToPath(new URL('.', import.meta.url))
const root = mkdtempSync(join(arg('dir', '/tmp'), 'ft-bench-'))

function cleanup() {
  rmSync(root, { recursive: true, force: true })
}
process.on('exit', cleanup)
process.on('SIGINT', () => process.exit(130))

// Incompressible input, written once.
const source = join(root, 'source.bin')
{
  const fd = openSync(source, 'w')
  const block = Buffer.allocUnsafe(8 * 1024 * 1024)
  for (let left = size; left > 0; left -= block.length) {
    randomFillSync(block)
    writeSync(fd, block, 0, Math.min(block.length, left))
  }
  closeSync(fd)
}

// Every run starts with nothing dirty in the page cache, so no run pays for writing back the
// source file or an earlier run's output.
const settle = () => execFileSync('sync')
settle()

// Free memory this VM has handed back to its host (free page reporting, 2 s after it is freed)
// costs a host fault per page when it is used again, counted as system time of the process that
// touches it: writing 1 GiB into the page cache took 0.16 s of system time on recycled pages and
// 1.3-2.1 s on reported ones. Which kind a run's receiver gets depended on what ran before it and
// how long ago, so the same code had two speeds. Before every run, for every implementation, the
// harness therefore writes and deletes a scratch file (faulting back `--prime` bytes, 2 × the
// size by default, outside the timing), reads the source once (it stays in the page cache), and
// syncs: each run starts with no dirty pages and more recycled free memory than it needs.
// `--prime 0` turns this off.
const primeBytes = parseSize(arg('prime', String(2 * size)))
const scratch = join(root, 'scratch.bin')
const block = Buffer.alloc(8 * 1024 * 1024)
function prepare() {
  if (primeBytes > 0) {
    const fd = openSync(scratch, 'w')
    for (let left = primeBytes; left > 0; left -= block.length) {
      writeSync(fd, block, 0, Math.min(block.length, left))
    }
    closeSync(fd)
    rmSync(scratch)
  }
  const fd = openSync(source, 'r')
  while (readSync(fd, block, 0, block.length, null) > 0) {}
  closeSync(fd)
  settle()
}

// The page cache's dirty bytes, and (on a VM with free page reporting, like Firecracker's balloon)
// how much free memory the guest has handed back to the host: a page handed back costs a host
// fault when it is next used, which the guest counts as system time of whoever touches it.
const REPORTED = '/sys/module/page_reporting/parameters/reported_kib'
function memory() {
  const info = readFileSync('/proc/meminfo', 'utf8')
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? 0)
  let reported = 0
  try {
    reported = Number(readFileSync(REPORTED, 'utf8'))
  } catch {}
  return { dirtyKiB: kib('Dirty') + kib('Writeback'), reportedKiB: reported }
}

/** The child's next message; rejects if it exits first (a crash must not hang the run). */
function reply(child, name) {
  return Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`${name} exited with code ${code}`)
    }),
  ])
}

async function once1(impl, round) {
  prepare()
  const before = memory()
  const dir = join(root, `${impl}-${round}`)
  const execArgv = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []
  const receiver = fork(join(here, 'receiver.mjs'), [impl, dir], { stdio: 'inherit', execArgv })
  const [{ port }] = await reply(receiver, `${impl} receiver`)
  receiver.send('go')
  const sender = fork(join(here, 'sender.mjs'), [impl, String(port), source], {
    stdio: 'inherit',
    execArgv,
  })
  const [result] = await reply(sender, `${impl} sender`).catch((error) => {
    receiver.kill()
    throw error
  })
  const after = memory()
  receiver.send('rss')
  const [{ maxRssKiB, cpuMs: receiverCpuMs, sysMs: receiverSysMs, faults }] = await once(
    receiver,
    'message',
  )
  receiver.send('exit')
  await once(receiver, 'exit')
  rmSync(dir, { recursive: true, force: true })
  settle()
  return {
    ...result,
    dirtyMiB: before.dirtyKiB / 1024,
    reportedDuringMiB: (after.reportedKiB - before.reportedKiB) / 1024,
    receiverCpuMs,
    receiverSysMs,
    faults,
    mbps: size / 1e6 / (result.ms / 1000),
    rssMiB: maxRssKiB / 1024,
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// What SHA-256 alone costs on this machine, in a process of its own: the fast path hashes every
// byte twice (sender and receiver), so this is CPU no verified transfer can avoid.
function shaSecondsPerGiB() {
  const script = `const { createHash } = require('node:crypto')
const b = Buffer.alloc(1 << 20, 7)
const h = createHash('sha256')
h.update(b)
const c = process.cpuUsage()
for (let i = 0; i < 512; i++) h.update(b)
h.digest()
const u = process.cpuUsage(c)
console.log((u.user + u.system) / 1e6 * 2)`
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }))
}
// Only for the ceiling printed at the end, which compares the fast path with tus.
const withCeiling = impls.includes('fast') && impls.includes('tus')
const shaCosts = withCeiling ? [shaSecondsPerGiB()] : []

console.log(
  `size ${(size / 1024 ** 2).toFixed(0)} MiB, ${runs} runs, order rotates per run: ${impls.join(', ')}`,
)
const results = Object.fromEntries(impls.map((i) => [i, []]))
for (let round = 0; round < runs; round++) {
  const order = impls.map((_, k) => impls[(k + round) % impls.length])
  for (const impl of order) {
    const r = await once1(impl, round)
    results[impl][round] = r
    console.log(
      `run ${round + 1} ${impl.padEnd(9)} ${r.mbps.toFixed(0).padStart(5)} MB/s  ${r.ms.toFixed(0).padStart(6)} ms  CPU ms (of it system) sender ${r.cpuMs.toFixed(0).padStart(5)} (${r.sysMs.toFixed(0).padStart(4)}) receiver ${r.receiverCpuMs.toFixed(0).padStart(5)} (${r.receiverSysMs.toFixed(0).padStart(4)})  receiver peak RSS ${r.rssMiB.toFixed(0)} MiB, page faults sender ${(r.senderFaults / 1000).toFixed(0)}k receiver ${(r.faults / 1000).toFixed(0)}k; dirty at start ${r.dirtyMiB.toFixed(0)} MiB, handed to the host during the run ${r.reportedDuringMiB.toFixed(0)} MiB`,
    )
  }
}

if (withCeiling) shaCosts.push(shaSecondsPerGiB())

const range = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`
const cpu = (rs, key, sys) =>
  `${(median(rs.map((r) => r[key])) / 1000).toFixed(2)} (${(median(rs.map((r) => r[sys])) / 1000).toFixed(2)})`
const ratios = (a, b) => results[a].map((r, k) => r.mbps / results[b][k].mbps)
const ratio = (a, b) => {
  if (!impls.includes(a) || !impls.includes(b)) return 'n/a'
  const xs = ratios(a, b)
  return `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`
}
console.log(
  '\n| Implementation | Median MB/s (range) | CPU s sender (system) | CPU s receiver (system) | Receiver peak RSS (MiB, max) | fast ÷ this (median of per-run ratios, range) | this ÷ tus (same) |',
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const impl of impls) {
  const rs = results[impl]
  const mbps = rs.map((r) => r.mbps)
  console.log(
    `| ${impl} | ${median(mbps).toFixed(0)} (${range(mbps)}) | ${cpu(rs, 'cpuMs', 'sysMs')} | ${cpu(rs, 'receiverCpuMs', 'receiverSysMs')} | ${Math.max(...rs.map((r) => r.rssMiB)).toFixed(0)} | ${ratio('fast', impl)} | ${ratio(impl, 'tus')} |`,
  )
}

// The CPU ceiling, from this run's own figures. Every implementation's CPU (sender and receiver,
// all threads) per GiB moved; at best both processes keep every core busy, so CPU-s per GiB ÷
// cores is the shortest time a GiB can take. A verified transfer's work, at best as measured
// here: two SHA-256 passes plus the least CPU any measured implementation spends moving the bytes
// besides hashing them (the fast path's own hashes subtracted).
if (withCeiling) {
  const cores = availableParallelism()
  const gib = size / 1024 ** 3
  const perGiB = (impl) =>
    median(results[impl].map((r) => (r.cpuMs + r.receiverCpuMs) / 1000 / gib))
  const busy = (impl) => median(results[impl].map((r) => (r.cpuMs + r.receiverCpuMs) / r.ms))
  const mbpsAt = (cpuSecondsPerGiB, coresBusy) => (1024 ** 3 / 1e6) * (coresBusy / cpuSecondsPerGiB)
  const sha = Math.min(...shaCosts)
  const moving = Object.fromEntries(
    impls
      .filter((i) => ['fast', 'raw', 'tus'].includes(i))
      .map((i) => [i, perGiB(i) - (i === 'fast' ? 2 * sha : 0)]),
  )
  const least = Math.min(...Object.values(moving))
  const floor = 1.2 * median(results.tus.map((r) => r.mbps))
  console.log(`
CPU ceiling (${cores} cores): SHA-256 costs ${sha.toFixed(2)} CPU-s per GiB (in a process of its own,
before and after the runs: ${shaCosts.map((x) => x.toFixed(2)).join(', ')}).
| Implementation | CPU-s per GiB | of it moving the bytes (hashes subtracted) | cores busy (median) | MB/s with all ${cores} cores busy |
| --- | ---: | ---: | ---: | ---: |`)
  for (const impl of Object.keys(moving)) {
    console.log(
      `| ${impl} | ${perGiB(impl).toFixed(2)} | ${moving[impl].toFixed(2)} | ${busy(impl).toFixed(2)} | ${mbpsAt(perGiB(impl), cores).toFixed(0)} |`,
    )
  }
  const verified = 2 * sha + least
  console.log(`
1.2 × tus = ${floor.toFixed(0)} MB/s. The fast path at its measured CPU would need ${((floor * perGiB('fast')) / (1024 ** 3 / 1e6)).toFixed(2)} of ${cores} cores busy (it keeps ${busy('fast').toFixed(2)}).
With the least CPU measured here for moving the bytes (${least.toFixed(2)} s) plus 2 × SHA-256, a verified transfer needs ${verified.toFixed(2)} CPU-s per GiB: at most ${mbpsAt(verified, cores).toFixed(0)} MB/s with all ${cores} cores busy.`)
}
