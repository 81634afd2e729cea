import { BinaryProtocolHandler, HEARTBEAT, PONG } from '@verb-tcp/binary-frames'
import { dial } from './dial.ts'
import { connectMessages, explain, type Msg } from './message-connection.ts'
import { fmt } from './stats.ts'

interface PingOptions {
  host: string
  messagePort: number
  binaryPort: number
  count: number
}

function summary(label: string, times: number[]): string {
  const min = Math.min(...times)
  const max = Math.max(...times)
  const avg = times.reduce((a, b) => a + b, 0) / times.length
  return `${label}: ${times.length} round trips, min/avg/max = ${fmt(min, 3)}/${fmt(avg, 3)}/${fmt(max, 3)} ms`
}

/** `ping`: round trips, one at a time, over the message port (ping/pong) and the binary port (heartbeat/PONG). */
export async function runPing({
  host,
  messagePort,
  binaryPort,
  count,
}: PingOptions): Promise<void> {
  let failed = false
  try {
    const c = await connectMessages(host, messagePort)
    const times: number[] = []
    const pongs: Msg[] = []
    let wake: (() => void) | undefined
    c.handler.on('message', (m: Msg) => {
      if (m.type === 'pong') {
        pongs.push(m)
        wake?.()
      }
    })
    for (let id = 1; id <= count; id++) {
      const start = performance.now()
      c.send({ type: 'ping', id })
      while (!pongs.some((p) => p.id === id)) {
        if (c.socket.destroyed) throw new Error('the connection closed')
        await new Promise<void>((resolve) => {
          wake = resolve
          c.socket.once('close', resolve)
        })
      }
      const ms = performance.now() - start
      times.push(ms)
      process.stdout.write(`message ${host}:${messagePort}: pong ${id} in ${fmt(ms, 3)} ms\n`)
    }
    process.stdout.write(`${summary(`message ${host}:${messagePort}`, times)}\n`)
    c.socket.end()
  } catch (error) {
    failed = true
    process.stderr.write(`demo-client: message port: ${explain(error, host, messagePort)}\n`)
  }
  try {
    const socket = await dial(host, binaryPort)
    const handler = new BinaryProtocolHandler(socket)
    const times: number[] = []
    for (let i = 1; i <= count; i++) {
      const start = performance.now()
      const pong = new Promise<void>((resolve, reject) => {
        handler.once(PONG, () => resolve())
        socket.once('close', () => reject(new Error('the connection closed')))
      })
      handler.sendBinaryMessage(HEARTBEAT, Buffer.alloc(0))
      await pong
      const ms = performance.now() - start
      times.push(ms)
      process.stdout.write(
        `binary ${host}:${binaryPort}: heartbeat ${i} answered in ${fmt(ms, 3)} ms\n`,
      )
    }
    process.stdout.write(`${summary(`binary ${host}:${binaryPort}`, times)}\n`)
    socket.end()
  } catch (error) {
    failed = true
    process.stderr.write(`demo-client: binary port: ${explain(error, host, binaryPort)}\n`)
  }
  if (failed) process.exitCode = 1
}
