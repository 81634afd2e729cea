// Heap per room member, over what the connection itself costs:
//   node --expose-gc bench/memory.mjs [--clients 5000] [--rooms 10]
// Accepts N loopback connections (opened by a child process), measures the heap after a GC,
// adds every connection to a TCPRoomManager and to one room, measures again, then joins each
// client to more rooms and measures per extra membership.
import { fork } from 'node:child_process'
import { parseArgs } from 'node:util'
import { createServer } from '@verb-tcp/core'
import { TCPRoomManager } from '@verb-tcp/rooms'

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '5000' },
    rooms: { type: 'string', default: '10' },
  },
  strict: false,
})
const N = Number(values.clients)
const ROOMS = Number(values.rooms)

if (process.argv[2] === '--child') {
  const { connect } = await import('node:net')
  const port = Number(process.argv[3])
  const sockets = []
  for (let i = 0; i < N; i += 100) {
    const batch = []
    for (let j = i; j < Math.min(N, i + 100); j++) {
      const socket = connect(port, '127.0.0.1')
      sockets.push(socket)
      batch.push(new Promise((resolve) => socket.once('connect', resolve)))
    }
    await Promise.all(batch)
  }
  process.send('connected')
  process.on('message', () => process.exit(0))
} else {
  if (!globalThis.gc) throw new Error('run with node --expose-gc')
  const sockets = []
  const app = createServer().withOptions({
    port: 0,
    host: '127.0.0.1',
    tcp: { timeout: 0, onConnection: (socket) => void sockets.push(socket) },
  })
  const { port } = await app.listen()
  const child = fork(
    new URL(import.meta.url).pathname,
    ['--child', String(port), '--clients', String(N)],
    {
      stdio: 'inherit',
    },
  )
  await new Promise((resolve) => child.once('message', resolve))
  while (sockets.length < N) await new Promise((r) => setTimeout(r, 10))
  const heap = async () => {
    for (let i = 0; i < 4; i++) {
      globalThis.gc()
      await new Promise((r) => setImmediate(r))
    }
    return process.memoryUsage().heapUsed
  }
  // No notices: 5,000 joins would queue 12.5 million of them, which is buffered data, not room state.
  const rooms = new TCPRoomManager({ maxMembersPerRoom: Number.POSITIVE_INFINITY, notices: false })
  const base = await heap()
  sockets.forEach((socket, i) => {
    rooms.addClient(String(i), socket)
    rooms.joinRoom(String(i), 'lobby')
  })
  const one = await heap()
  for (let r = 1; r < ROOMS; r++) {
    for (let i = 0; i < N; i++) rooms.joinRoom(String(i), `room-${r}`)
  }
  const many = await heap()
  const perClient = (one - base) / N
  const perExtra = (many - one) / (N * (ROOMS - 1))
  console.log(`${N} connections, node ${process.version}`)
  console.log(`client added and in one room: ${perClient.toFixed(0)} B heap per member`)
  console.log(`each further room membership: ${perExtra.toFixed(0)} B heap`)
  child.send('exit')
  await rooms.close()
  await app.close({ gracePeriod: 0 })
}
