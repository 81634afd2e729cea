// Disk-to-disk upload throughput over loopback: the fast path (binary frames, SHA-256 end to end,
// fsync + atomic publish) against a raw TCP pipe of the same file (createReadStream().pipe(socket)
// into createWriteStream, no hash, no fsync), the same raw pipe hashing SHA-256 on both ends in
// the I/O thread with the digests compared (`rawsha`: what verification costs when nothing
// overlaps it), the docs-compatible base64 path, and @tus/server + @tus/file-store over HTTP (one
// PATCH, no checksum). Sender and receiver are separate processes, forked fresh for every run;
// implementations are interleaved run by run (the order rotates); the summary is the median MB/s
// of each and the median of the per-run ratios fast ÷ other (runs paired by index). Each line
// also shows the CPU time both processes used (all their threads), and the receiver's peak RSS,
// to show no file is held in memory.
//
// Usage (after `npm run build`; on a machine doing nothing else, since it measures throughput):
//   node bench/run.mjs [--size 1g] [--runs 3] [--impl fast,fastslices,raw,rawsha,tus,base64] [--dir /tmp]
//                      [--profile DIR]
// 1 GiB × 3 runs of all five takes about 90 s on a 2-core machine (the base64 path is most of
// it). The source and received files live in a temp directory under --dir (same disk) and are
// deleted at the end. `fastslices` is the fast path with its receiver on binary-frames'
// `slices` (chunks written as the socket reads they arrived in, not joined). For experiments, FT_CHUNK and FT_WINDOW set the fast sender's chunkBytes
// and windowBytes, and FT_TIMELINE=1 prints its start, data and publish phases.
import { execFileSync, fork } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { once } from 'node:events'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
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

async function once1(impl, round) {
  const dir = join(root, `${impl}-${round}`)
  const execArgv = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []
  const receiver = fork(join(here, 'receiver.mjs'), [impl, dir], { stdio: 'inherit', execArgv })
  const [{ port }] = await once(receiver, 'message')
  receiver.send('go')
  const sender = fork(join(here, 'sender.mjs'), [impl, String(port), source], {
    stdio: 'inherit',
    execArgv,
  })
  const [result] = await once(sender, 'message')
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
      `run ${round + 1} ${impl.padEnd(6)} ${r.mbps.toFixed(0).padStart(5)} MB/s  ${r.ms.toFixed(0).padStart(6)} ms  CPU ms (of it system) sender ${r.cpuMs.toFixed(0).padStart(5)} (${r.sysMs.toFixed(0).padStart(4)}) receiver ${r.receiverCpuMs.toFixed(0).padStart(5)} (${r.receiverSysMs.toFixed(0).padStart(4)})  receiver peak RSS ${r.rssMiB.toFixed(0)} MiB, ${(r.faults / 1000).toFixed(0)}k page faults`,
    )
  }
}

const range = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`
const cpu = (rs, key, sys) =>
  `${(median(rs.map((r) => r[key])) / 1000).toFixed(2)} (${(median(rs.map((r) => r[sys])) / 1000).toFixed(2)})`
console.log(
  '\n| Implementation | Median MB/s (range) | CPU s sender (system) | CPU s receiver (system) | Receiver peak RSS (MiB, max) | fast ÷ this (median of per-run ratios) |',
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
for (const impl of impls) {
  const rs = results[impl]
  const ratio = impls.includes('fast')
    ? median(rs.map((r, k) => results.fast[k].mbps / r.mbps)).toFixed(2)
    : 'n/a'
  const mbps = rs.map((r) => r.mbps)
  console.log(
    `| ${impl} | ${median(mbps).toFixed(0)} (${range(mbps)}) | ${cpu(rs, 'cpuMs', 'sysMs')} | ${cpu(rs, 'receiverCpuMs', 'receiverSysMs')} | ${Math.max(...rs.map((r) => r.rssMiB)).toFixed(0)} | ${ratio} |`,
  )
}
