// One echo server in its own process, so the load generator in run.mjs never shares its event loop.
// Usage: node bench/server.mjs core|bare|bare-defaults (forked by run.mjs, which talks over IPC).
import net from 'node:net'
import { createServer } from '../dist/index.js'

const HOST = '127.0.0.1'
const kind = process.argv[2]

// Every variant runs this same handler, so the only difference measured is the server around it.
// Reads pause while the write side is backed up, keeping memory bounded when the client lags.
function echo(socket) {
  socket.on('data', (data) => {
    if (!socket.write(data)) {
      socket.pause()
      socket.once('drain', () => socket.resume())
    }
  })
}

// By hand, what core does for every connection by default: the fair baseline.
function sameSetup(socket) {
  socket.on('error', () => {})
  socket.setNoDelay(true)
  socket.setKeepAlive(true, 60_000)
  socket.setTimeout(300_000)
  socket.on('timeout', () => socket.destroy())
  echo(socket)
}

async function start() {
  if (kind === 'core') {
    const app = createServer().withOptions({ port: 0, host: HOST, tcp: { onConnection: echo } })
    const { port } = await app.listen()
    return { port, stop: () => app.close({ gracePeriod: 0 }) }
  }
  if (kind !== 'bare' && kind !== 'bare-defaults') throw new Error(`unknown server kind ${kind}`)
  const server = net.createServer(kind === 'bare' ? sameSetup : echo)
  server.listen(0, HOST)
  await new Promise((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const stop = () => new Promise((resolve) => server.close(resolve))
  return { port: server.address().port, stop }
}

const { port, stop } = await start()
process.on('message', async (message) => {
  // CPU time lets run.mjs see the server's cost per operation even when the client is the limit.
  if (message === 'cpu') process.send({ cpu: process.cpuUsage() })
  if (message === 'stop') {
    await stop()
    process.disconnect()
  }
})
process.send({ port })
