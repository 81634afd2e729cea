// An independent cross-check of run.mjs: its own driver, clock, CPU accounting and start-of-run
// state, and its own minimal code for the three implementations that matter:
//   fast  this package's `sendFile` into `receiveFiles` (from dist/); done when the receiver
//         emits `complete` (verified, fsynced, published);
//   raw   `createReadStream().pipe(socket)` into `createWriteStream`; done when the write stream
//         has closed;
//   tus   @tus/server + @tus/file-store, one POST then one PATCH; done when the PATCH is answered.
// Every run spawns two fresh processes (`node crosscheck.mjs recv|send IMPL ...`, each under
// `/usr/bin/time`) that talk to this harness by lines on stdout only. The clock is the
// harness's: from the sender's "start" line (written after its imports, just before it
// connects) to the "done" line, each stamped when it arrives. CPU is what each child reports
// from `process.resourceUsage()` (all threads) between its "ready"/"start" line and "done",
// with `/usr/bin/time`'s whole-process totals (start-up included) beside it.
//
// Before every run, the simple way: delete the outputs, write and delete a scratch file of twice
// the size with `dd` (so the receiver writes into freed pages this VM recycles rather than pages
// already handed back to the host), read the source with `cat`, then `sync`.
//
// Usage (after `npm run build`, through /work/bin/bench on a quiet machine):
//   node bench/crosscheck.mjs [--size 1g] [--rounds 4] [--impl fast,raw,tus] [--dir /tmp]
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs'
import { createServer as httpServer, request } from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const READ_HWM = 1024 * 1024
const self = fileURLToPath(import.meta.url)
const [role, impl, ...rest] = process.argv.slice(2)
const say = (event) => process.stdout.write(`${JSON.stringify(event)}\n`)
const cpuMs = () => {
  const u = process.resourceUsage()
  return { user: u.userCPUTime / 1000, sys: u.systemCPUTime / 1000 }
}

if (role === 'recv') await receiver(impl, rest[0])
else if (role === 'send') await sender(impl, Number(rest[0]), rest[1])
else await harness()

async function receiver(impl, dir) {
  mkdirSync(dir, { recursive: true })
  // The harness ends our stdin when it has what it needs.
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
  let server
  const listening = () => say({ ev: 'ready', port: server.address().port, cpu: cpuMs() })
  if (impl === 'raw') {
    server = net.createServer({ allowHalfOpen: true }, (socket) => {
      const out = createWriteStream(join(dir, 'raw.bin'))
      socket.pipe(out)
      out.on('close', () => {
        say({ ev: 'done', cpu: cpuMs() })
        socket.end()
      })
    })
  } else if (impl === 'fast') {
    const { FileReceiver, receiveFiles } = await import('../dist/index.js')
    const files = new FileReceiver(dir, { minFreeBytes: 0, maxFileBytes: 2 ** 40 })
    files.on('complete', () => say({ ev: 'done', cpu: cpuMs() }))
    server = net.createServer((socket) => {
      socket.on('error', () => {})
      receiveFiles(socket, files)
    })
  } else if (impl === 'tus') {
    const { Server } = await import('@tus/server')
    const { FileStore } = await import('@tus/file-store')
    const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) })
    // Done is the sender's (the PATCH answered); this line only carries our CPU at that point.
    server = httpServer((req, res) => {
      if (req.method === 'PATCH') res.on('finish', () => say({ ev: 'served', cpu: cpuMs() }))
      tus.handle(req, res)
    })
  } else throw new Error(`unknown implementation ${impl}`)
  server.listen(0, '127.0.0.1', listening)
}

async function sender(impl, port, path) {
  const size = statSync(path).size
  const { sendFile } = impl === 'fast' ? await import('../dist/index.js') : {}
  say({ ev: 'start', cpu: cpuMs() })
  if (impl === 'raw') {
    const socket = net.connect(port, '127.0.0.1')
    await once(socket, 'connect')
    createReadStream(path, { highWaterMark: READ_HWM }).pipe(socket)
    socket.resume()
    await once(socket, 'close')
  } else if (impl === 'fast') {
    const socket = net.connect(port, '127.0.0.1')
    await once(socket, 'connect')
    const done = await sendFile(socket, path, { name: 'fast.bin' })
    if (done.size !== size) throw new Error('fast: short')
    socket.destroy()
  } else if (impl === 'tus') {
    const http = (options, body) =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, ...options }, (res) => {
          res.resume()
          resolve(res)
        })
        req.on('error', reject)
        if (body) body.pipe(req)
        else req.end()
      })
    const created = await http({
      method: 'POST',
      path: '/files',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(size) },
    })
    if (created.statusCode !== 201) throw new Error(`tus POST ${created.statusCode}`)
    const patched = await http(
      {
        method: 'PATCH',
        path: new URL(created.headers.location, 'http://x').pathname,
        headers: {
          'Tus-Resumable': '1.0.0',
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(size),
        },
      },
      createReadStream(path, { highWaterMark: READ_HWM }),
    )
    if (patched.statusCode !== 204 || Number(patched.headers['upload-offset']) !== size) {
      throw new Error(`tus PATCH ${patched.statusCode} ${patched.headers['upload-offset']}`)
    }
    say({ ev: 'done', cpu: cpuMs() })
  } else throw new Error(`unknown implementation ${impl}`)
  say({ ev: 'end', cpu: cpuMs() })
  process.exit(0)
}

/** A child under /usr/bin/time; its stdout lines arrive stamped on the harness's clock. */
function child(args) {
  const proc = spawn('/usr/bin/time', ['-f', 'TIME %U %S %e %M', process.execPath, self, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const events = []
  const waiters = []
  let stderr = ''
  proc.stderr.on('data', (d) => {
    stderr += d
  })
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const event = { ...JSON.parse(line), at: performance.now() }
    events.push(event)
    for (const w of waiters.splice(0)) w()
  })
  const exited = once(proc, 'close').then(([code]) => {
    for (const w of waiters.splice(0)) w()
    const m = /TIME (\S+) (\S+) (\S+) (\d+)\s*$/.exec(stderr)
    if (code !== 0 || !m) throw new Error(`${args.join(' ')} exited ${code}: ${stderr}`)
    return { cpuS: Number(m[1]) + Number(m[2]), sysS: Number(m[2]), maxRssKiB: Number(m[4]) }
  })
  exited.catch(() => {})
  async function next(ev) {
    for (;;) {
      const found = events.find((e) => e.ev === ev)
      if (found) return found
      if (proc.exitCode !== null) await exited // throws with the child's stderr
      await new Promise((resolve) => waiters.push(resolve))
    }
  }
  return { proc, next, exited }
}

async function harness() {
  const argv = process.argv.slice(2)
  const arg = (name, fallback) => {
    const i = argv.indexOf(`--${name}`)
    return i === -1 ? fallback : argv[i + 1]
  }
  const sizeText = arg('size', '1g')
  const m = /^(\d+)([kmg])$/i.exec(sizeText)
  if (!m) throw new Error(`bad --size ${sizeText}`)
  const size = Number(m[1]) * 1024 ** ' kmg'.indexOf(m[2].toLowerCase())
  const rounds = Number(arg('rounds', '4'))
  const impls = arg('impl', 'fast,raw,tus').split(',')
  const root = mkdtempSync(join(arg('dir', '/tmp'), 'ft-crosscheck-'))
  process.on('exit', () => rmSync(root, { recursive: true, force: true }))
  process.on('SIGINT', () => process.exit(130))
  process.on('SIGTERM', () => process.exit(143))
  const sh = (script) => execFileSync('sh', ['-c', script], { cwd: root, stdio: 'inherit' })
  const mib = size / 1024 ** 2
  sh(`head -c ${size} /dev/urandom > source.bin`)

  const dirty = () => {
    const info = readFileSync('/proc/meminfo', 'utf8')
    return Number(/^Dirty:\s+(\d+)/m.exec(info)[1]) / 1024
  }
  const results = Object.fromEntries(impls.map((i) => [i, []]))
  console.log(`cross-check: ${mib} MiB, ${rounds} rounds, order rotates: ${impls.join(', ')}`)
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < impls.length; k++) {
      const impl = impls[(k + round) % impls.length]
      const out = join(root, 'out')
      sh(
        `rm -rf out && sync && dd if=/dev/zero of=scratch bs=8M count=${(2 * mib) / 8} status=none && rm scratch && cat source.bin > /dev/null && sync`,
      )
      const dirtyMiB = dirty()
      const recv = child(['recv', impl, out])
      const ready = await recv.next('ready')
      const send = child(['send', impl, String(ready.port), join(root, 'source.bin')])
      const start = await send.next('start')
      const done = await (impl === 'tus' ? send : recv).next('done')
      const sendEnd = await send.next('end')
      const recvLast = impl === 'tus' ? await recv.next('served') : done
      recv.proc.stdin.end()
      const [sendTime, recvTime] = await Promise.all([send.exited, recv.exited])
      const files = readdirSync(out).filter((f) => statSync(join(out, f)).isFile())
      const outSize = Math.max(...files.map((f) => statSync(join(out, f)).size))
      if (outSize !== size) throw new Error(`${impl}: received ${outSize} bytes, not ${size}`)
      const seconds = (done.at - start.at) / 1000
      const used = (a, b) => (b.user + b.sys - a.user - a.sys) / 1000
      const r = {
        mbps: size / 1e6 / seconds,
        seconds,
        sendCpu: used(start.cpu, sendEnd.cpu),
        recvCpu: used(ready.cpu, recvLast.cpu),
        sendTime,
        recvTime,
      }
      r.util = (r.sendCpu + r.recvCpu) / seconds
      results[impl][round] = r
      console.log(
        `round ${round + 1} ${impl.padEnd(4)} ${r.mbps.toFixed(0).padStart(4)} MB/s ${(seconds * 1000).toFixed(0).padStart(5)} ms | transfer CPU s sender ${r.sendCpu.toFixed(2)} receiver ${r.recvCpu.toFixed(2)}, cores busy ${r.util.toFixed(2)} of 2 | /usr/bin/time whole process: sender ${sendTime.cpuS.toFixed(2)} (sys ${sendTime.sysS.toFixed(2)}) receiver ${recvTime.cpuS.toFixed(2)} (sys ${recvTime.sysS.toFixed(2)}), receiver max RSS ${(recvTime.maxRssKiB / 1024).toFixed(0)} MiB | dirty at start ${dirtyMiB.toFixed(0)} MiB`,
      )
      rmSync(out, { recursive: true, force: true })
    }
  }

  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b)
    const h = s.length >> 1
    return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2
  }
  const spread = (xs, digits) =>
    `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`
  const gib = size / 1024 ** 3
  console.log('\nper implementation: median (range)')
  for (const impl of impls) {
    const rs = results[impl]
    console.log(
      `${impl.padEnd(4)} MB/s ${spread(
        rs.map((r) => r.mbps),
        0,
      )} | transfer CPU s per GiB ${spread(
        rs.map((r) => (r.sendCpu + r.recvCpu) / gib),
        2,
      )} (sender ${spread(
        rs.map((r) => r.sendCpu / gib),
        2,
      )}, receiver ${spread(
        rs.map((r) => r.recvCpu / gib),
        2,
      )}) | whole-process CPU s per GiB ${spread(
        rs.map((r) => (r.sendTime.cpuS + r.recvTime.cpuS) / gib),
        2,
      )} | cores busy ${spread(
        rs.map((r) => r.util),
        2,
      )} of 2`,
    )
  }
  console.log('\nmedians of per-run ratios (range), runs paired by round')
  for (const [a, b] of [
    ['fast', 'raw'],
    ['fast', 'tus'],
    ['raw', 'tus'],
  ]) {
    if (!results[a] || !results[b]) continue
    const xs = results[a].map((r, k) => r.mbps / results[b][k].mbps)
    console.log(`${a} ÷ ${b}: ${spread(xs, 2)}`)
  }
}
