// The client side of the fan-out benchmark, the same for every implementation: K clients in this
// process, all in one room; on each "round" every client broadcasts once, and the round is done
// when this process's clients received every other client's message (K × (N − 1) deliveries).
import { Socket } from 'node:net'
import { MessageHandler } from '@verb-tcp/json-frames'
import { io } from 'socket.io-client'

// Counts are cumulative: a fast peer's message for the next round may arrive before this
// process was told the round started.
let target = 0
let received = 0
let clients = []

function delivered() {
  received++
  if (received === target) process.send({ done: true })
}

async function connectVerb(port) {
  const socket = new Socket()
  socket.setNoDelay(true)
  socket.on('error', () => {})
  const messages = new MessageHandler(socket)
  messages.on('error', () => {})
  const joined = new Promise((resolve) => {
    messages.on('message', (message) => {
      if (message.t === 'm') delivered()
      else if (message.t === 'ok') resolve()
    })
  })
  socket.connect(port, '127.0.0.1')
  messages.sendMessage({ t: 'j' })
  await joined
  return {
    send: (d) => messages.sendMessage({ t: 'b', d }),
    close: () => socket.destroy(),
  }
}

async function connectSio(port) {
  const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false })
  socket.on('m', delivered)
  await new Promise((resolve) => socket.once('connect', resolve))
  await new Promise((resolve) => socket.emit('j', resolve))
  return { send: (d) => socket.emit('b', d), close: () => socket.close() }
}

process.on('message', async (message) => {
  if (message.cmd === 'connect') {
    const { ports, count, first, impl } = message
    const connect = impl === 'sio' ? connectSio : connectVerb
    clients = []
    for (let i = 0; i < count; i++) clients.push(await connect(ports[(first + i) % ports.length]))
    process.send({ connected: true })
  } else if (message.cmd === 'round') {
    target = message.target
    const payload = message.payload
    for (const client of clients) client.send(payload)
    if (received >= target) process.send({ done: true })
  } else if (message.cmd === 'close') {
    for (const client of clients) client.close()
    process.exit(0)
  }
})
