import type { Socket } from 'node:net'
import { type Message, MessageClient } from '../clients.ts'
import { OPEN_LIMITS } from '../limits.ts'
import { expect, type Report, type ScenarioContext } from '../scenario.ts'
import type { ServerProcess } from '../server.ts'
import { connectTo, pool, sleep, waitFor } from '../util.ts'

/** How a client answers the shutdown notice: the three kinds a real population has. */
type Answer = 'end' | 'reset' | 'ignore'
const ANSWERS: Answer[] = ['end', 'reset', 'ignore']

export const GRACE_PERIOD = 3000

function answer(socket: Socket, how: Answer): void {
  if (how === 'end') socket.end()
  else if (how === 'reset') socket.resetAndDestroy()
}

async function exitFigures(
  server: ServerProcess,
  report: Report,
  signalledAt: number,
): Promise<void> {
  const exited = await waitFor(() => !server.alive, GRACE_PERIOD + 20_000, 50)
  const exitMs = Date.now() - signalledAt
  report.figures.exit = exited
    ? `${server.exitCode ?? server.exitSignal} after ${exitMs} ms`
    : 'still running'
  expect(report, exited, 'the server did not exit after SIGTERM')
  expect(
    report,
    server.exitCode === 0,
    `the server exited with ${server.exitCode ?? server.exitSignal}, not 0`,
  )
  expect(
    report,
    exitMs <= GRACE_PERIOD + 5000,
    `exit took ${exitMs} ms with a ${GRACE_PERIOD} ms grace period`,
  )
  const unhandled = server.stderr.filter((line) => /Unhandled|Error:/.test(line)).slice(0, 2)
  expect(report, unhandled.length === 0, `stderr: ${unhandled.join(' | ')}`)
}

/**
 * SIGTERM while half the message-port clients broadcast (each broadcast followed by a ping, whose
 * pong acknowledges it); clients answer the notice by closing, by resetting, or not at all.
 * Every client must get `server_shutdown`, every acknowledged broadcast must have reached every
 * other client before its notice, and the process must exit 0 within the grace period.
 */
export async function sigtermDuringBroadcasts(
  context: ScenarioContext,
  report: Report,
  server: ServerProcess,
) {
  const count = context.mode === 'full' ? 2000 : 200
  report.figures['message clients'] = count
  const port = server.ports.message as number
  const clients: MessageClient[] = []
  const acked: Array<Set<number>> = []
  const noticed: boolean[] = []
  const seenBeforeNotice: Array<Set<string>> = []
  await pool(count, 100, async (i) => {
    const client = await MessageClient.connect(port, { keep: false })
    clients[i] = client
    acked[i] = new Set()
    seenBeforeNotice[i] = new Set()
    noticed[i] = false
    client.onMessage = (m: Message) => {
      if (m.type === 'server_shutdown') {
        noticed[i] = true
        answer(client.socket, ANSWERS[i % ANSWERS.length] as Answer)
      } else if (noticed[i]) {
        // Nothing counts after the notice.
      } else if (m.type === 'pong' && typeof m.ack === 'number') acked[i]?.add(m.ack)
      else if (m.type === 'broadcast') {
        const data = m.data as { from?: number; seq?: number } | undefined
        seenBeforeNotice[i]?.add(`${data?.from}:${data?.seq}`)
      }
    }
    await client.nextOfType('welcome', 30_000)
  })
  let sending = true
  const senders = clients.slice(0, Math.min(20, count)).map(async (client, from) => {
    for (let seq = 0; sending && !noticed[from] && !client.closed; seq++) {
      client.send({ type: 'broadcast', data: { from, seq } })
      client.send({ type: 'ping', id: `ack-${from}-${seq}`, ack: seq })
      // Closed loop: the next broadcast once this one is acknowledged, so the load follows what
      // the server can take instead of piling up in its queues.
      await waitFor(
        () => acked[from]?.has(seq) === true || noticed[from] === true || client.closed,
        10_000,
        2,
      )
    }
  })
  await sleep(context.mode === 'full' ? 2000 : 500)
  const signalledAt = Date.now()
  server.kill('SIGTERM')
  await exitFigures(server, report, signalledAt)
  sending = false
  await Promise.all(senders)
  const noticedCount = noticed.filter(Boolean).length
  let ackedTotal = 0
  let missing = 0
  for (let from = 0; from < Math.min(20, count); from++) {
    for (const seq of acked[from] ?? []) {
      ackedTotal++
      for (let to = 0; to < count; to++) {
        if (to !== from && !seenBeforeNotice[to]?.has(`${from}:${seq}`)) missing++
      }
    }
  }
  report.figures['got server_shutdown'] = `${noticedCount}/${count}`
  report.figures['acknowledged broadcasts'] = ackedTotal
  report.figures['acknowledged broadcasts missing at a receiver'] = missing
  expect(report, noticedCount === count, `${count - noticedCount} clients got no server_shutdown`)
  expect(report, missing === 0, `${missing} deliveries of acknowledged broadcasts were lost`)
  for (const client of clients) client.close()
}

/** The same population on the echo port, whose goodbye is a line of text. */
export async function sigtermEchoClients(
  context: ScenarioContext,
  report: Report,
  server: ServerProcess,
) {
  const count = context.mode === 'full' ? 1000 : 150
  const port = server.ports.echo as number
  const sockets: Socket[] = []
  const noticed: boolean[] = []
  await pool(count, 100, async (i) => {
    const socket = await connectTo(port)
    sockets[i] = socket
    noticed[i] = false
    let greeted = false
    await new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        if (!greeted) {
          greeted = true
          resolve()
          return
        }
        if (!noticed[i] && /shut/i.test(chunk.toString('latin1'))) {
          noticed[i] = true
          answer(socket, ANSWERS[i % ANSWERS.length] as Answer)
        }
      })
      socket.once('close', () => resolve())
    })
  })
  const signalledAt = Date.now()
  server.kill('SIGTERM')
  await exitFigures(server, report, signalledAt)
  const noticedCount = noticed.filter(Boolean).length
  report.figures['echo clients with the goodbye'] = `${noticedCount}/${count}`
  expect(report, noticedCount === count, `${count - noticedCount} echo clients got no goodbye`)
  for (const socket of sockets) socket.destroy()
}

export const SHUTDOWN_FLAGS = { ...OPEN_LIMITS, 'grace-period': GRACE_PERIOD }
