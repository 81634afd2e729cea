// CPU cost of our receive path alone, without a network: 1 GiB of 64 KiB data frames, cut into
// 64 KiB chunks as a loopback socket delivers them, pushed into an in-memory Duplex that carries
// a session (decoder, flow-control accounting, one MuxStream Duplex with a 'data' listener),
// against the same chunks read straight from the Duplex. The difference is what the muxer adds
// per GiB on the receiving side.
//
// Usage (after a build): node bench/receive-path.mjs [--runs 5] [--fresh]

import { Duplex } from 'node:stream'
import { createSession } from '../dist/index.js'

const argv = process.argv.slice(2)
const runsAt = argv.indexOf('--runs')
const RUNS = runsAt === -1 ? 5 : Number(argv[runsAt + 1])
// --fresh copies every chunk into a new buffer first, as a socket hands over a new one per read,
// so the garbage collector's share is in the figure too.
const FRESH = argv.includes('--fresh')
const TOTAL = 1 << 30
const FRAME = 64 * 1024

function frame(id, payload) {
  const header = Buffer.alloc(8)
  header.writeUInt32BE(id, 0)
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}
const control = (message) => frame(0, Buffer.from(JSON.stringify(message)))

const wire = Buffer.concat(Array.from({ length: 64 }, () => frame(1, Buffer.alloc(FRAME, 1))))
const chunks = []
for (let i = 0; i < wire.length; i += 65536) chunks.push(wire.subarray(i, i + 65536))

async function run(mode) {
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback()
    },
  })
  let got = 0
  if (mode === 'mux') {
    const big = 2 ** 31
    const session = createSession(socket, {
      role: 'acceptor',
      keepAliveInterval: 0,
      initialWindow: big,
      maxWindow: big,
      initialSessionWindow: big,
      maxSessionWindow: big,
    })
    session.on('stream', (stream) =>
      stream.on('data', (b) => {
        got += b.length
      }),
    )
    socket.push(
      Buffer.concat([
        control({
          type: 'hello',
          version: 1,
          initialWindow: big,
          sessionWindow: big,
          maxStreams: 100,
          maxFrameSize: FRAME,
          features: [],
        }),
        control({ type: 'stream_create', streamId: 1, streamType: 'bench' }),
      ]),
    )
  } else {
    socket.on('data', (b) => {
      got += b.length
    })
  }
  const t0 = process.cpuUsage()
  let sent = 0
  while (sent < TOTAL) {
    for (const c of chunks) socket.push(FRESH ? Buffer.from(c) : c)
    sent += wire.length
    await new Promise((resolve) => setImmediate(resolve))
  }
  await new Promise((resolve) => setImmediate(resolve))
  const u = process.cpuUsage(t0)
  socket.destroy()
  const expected = mode === 'mux' ? (sent / (FRAME + 8)) * FRAME : sent
  if (got !== expected) throw new Error(`${mode}: got ${got}, expected ${expected}`)
  return (u.user + u.system) / 1000 / (sent / 2 ** 30)
}

const results = { raw: [], mux: [] }
for (let i = 0; i < RUNS; i++) {
  for (const mode of ['raw', 'mux']) results[mode].push(await run(mode))
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(`node ${process.version}, 1 GiB in 64 KiB chunks, ${RUNS} runs each`)
console.log(`bare Duplex 'data'    : ${median(results.raw).toFixed(0)} CPU ms/GiB`)
console.log(`session + MuxStream   : ${median(results.mux).toFixed(0)} CPU ms/GiB`)
