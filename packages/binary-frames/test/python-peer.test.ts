// A second implementation of the wire format, in Python (stdlib only, test/fixtures/binary_peer.py),
// talks to a live server: if it agrees with ours, the format is what the README says and not
// merely what our encoder and decoder agree on. Skipped when python3 is not installed.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { BinaryProtocolHandler, DATA } from '../src/index.ts'

const hasPython = spawnSync('python3', ['--version']).status === 0
const script = fileURLToPath(new URL('./fixtures/binary_peer.py', import.meta.url))

let server: Server | undefined
const sockets: Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  server = undefined
})

it.skipIf(!hasPython)(
  'a Python peer gets heartbeats answered and data echoed, frames split at odd boundaries',
  async () => {
    const seen: [number, number, number][] = []
    server = createServer((socket) => {
      sockets.push(socket)
      const h = new BinaryProtocolHandler(socket)
      h.on('frame', (f) => seen.push([f.type, f.flags, f.payload.length]))
      h.on(DATA, (f) => h.sendBinaryMessage(DATA, f.payload, f.flags))
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo

    const child = spawn('python3', [script, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
    const timer = setTimeout(() => child.kill(), 20_000)
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    const [code] = await once(child, 'close')
    clearTimeout(timer)
    expect(err).toBe('')
    const result = JSON.parse(out.trim())
    expect(result.checks.filter(([, ok]: [string, boolean]) => !ok)).toEqual([])
    expect(result.ok).toBe(true)
    expect(code).toBe(0)
    expect(seen).toEqual([
      [0x01, 0, 0],
      [0x10, 0x0405, 25],
      [0x10, 0x8000, 0],
      [0x01, 0, 0],
      [0x10, 0x0102, 0x00010203],
    ])
  },
  30_000,
)
