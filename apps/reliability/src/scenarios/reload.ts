import { connect } from 'node:net'
import { MessageClient } from '../clients.ts'
import { OPEN_LIMITS } from '../limits.ts'
import { expect, type Scenario } from '../scenario.ts'
import type { LogLine } from '../server.ts'
import { waitFor, withTimeout } from '../util.ts'

/** A connection not greeted within this is stuck: a failure, not a hang. */
const STALL_MS = 15_000
/** Longest a reload may take (new workers started, old ones drained) before the run gives up. */
const RELOAD_MS = 60_000
const GRACE_PERIOD = 5_000

interface Loop {
  attempts: number
  greeted: number
  /** Failure reasons and how often each happened (`ECONNREFUSED`, `ECONNRESET`, …). */
  failures: Map<string, number>
  /** Worker ids (`w3`) that greeted someone: the generations the loop reached. */
  workers: Set<string>
}

/**
 * `parallel` clients on the message port, each connecting again as soon as its previous
 * connection got its `welcome`, until stopped or `maxAttempts` were made.
 */
function connectLoop(port: number, parallel: number, maxAttempts: number) {
  const loop: Loop = { attempts: 0, greeted: 0, failures: new Map(), workers: new Set() }
  let stopped = false
  const fail = (reason: string) => loop.failures.set(reason, (loop.failures.get(reason) ?? 0) + 1)
  const one = () =>
    new Promise<void>((resolve) => {
      loop.attempts++
      const socket = connect(port, '127.0.0.1')
      let got = Buffer.alloc(0)
      let settled = false
      const settle = (failure?: string) => {
        if (settled) return
        settled = true
        if (failure) fail(failure)
        socket.destroy()
        resolve()
      }
      socket.setTimeout(STALL_MS, () => settle(`no welcome within ${STALL_MS / 1000} s`))
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk])
        // json-frames: "<byte length>\n<json>"; the welcome is the first frame.
        const newline = got.indexOf(10)
        if (newline === -1) return
        const length = Number(got.subarray(0, newline).toString('latin1'))
        if (got.length - newline - 1 < length) return
        const first = JSON.parse(got.subarray(newline + 1, newline + 1 + length).toString('utf8'))
        if (first.type !== 'welcome') return settle(`first message ${first.type}`)
        loop.greeted++
        loop.workers.add(String(first.connectionId).split('-')[0] ?? '')
        settle()
      })
      socket.on('error', (error: NodeJS.ErrnoException) => settle(error.code ?? error.message))
      socket.on('close', () => settle('closed before the welcome'))
    })
  const run = async () => {
    while (!stopped && loop.attempts < maxAttempts) await one()
  }
  const done = Promise.all(Array.from({ length: parallel }, run))
  return {
    loop,
    stop: async () => {
      stopped = true
      await done
      return loop
    },
  }
}

/**
 * Zero-downtime reload: the demo with `--workers 2` gets SIGHUP several times in a row while
 * clients connect continuously (none may be refused, reset or left without its welcome), and
 * before each reload a set of clients connected to the old workers sends a last ping, which
 * must be answered before their goodbye notice.
 */
export const reload: Scenario = {
  name: 'reload',
  needs: ['message'],
  async run({ mode, startServer, log }, report) {
    const reloads = mode === 'full' ? 5 : 2
    const parallel = mode === 'full' ? 16 : 4
    const resident = mode === 'full' ? 50 : 4
    report.load = `--workers 2, ${reloads} SIGHUP reloads in a row; ${parallel} clients connecting continuously; ${resident} connected clients with a last ping before each reload`
    const server = await startServer({
      flags: { ...OPEN_LIMITS, workers: 2, 'grace-period': GRACE_PERIOD },
    })
    if (server.ignoredFlags.includes('workers')) {
      report.skipped = 'the server has no --workers flag'
      return
    }
    const port = server.ports.message as number
    const running = connectLoop(port, parallel, 2_000_000)
    let answered = 0
    let noticed = 0
    let answeredLate = 0
    const line = (test: (l: LogLine) => boolean, what: string) =>
      withTimeout(server.waitForLog(test), RELOAD_MS, what)
    try {
      for (let generation = 2; generation <= reloads + 1; generation++) {
        // Connections are flowing to the current generation before it is replaced.
        const from = running.loop.greeted
        await waitFor(() => running.loop.greeted >= from + 100, 30_000)
        const clients = await Promise.all(
          Array.from({ length: resident }, () => MessageClient.connect(port, { keep: true })),
        )
        await Promise.all(clients.map((c) => c.nextOfType('welcome')))
        for (const [i, c] of clients.entries()) c.send({ type: 'ping', id: `last-${i}` })
        server.kill('SIGHUP')
        for (const [i, c] of clients.entries()) {
          await withTimeout(c.nextOfType('server_shutdown'), RELOAD_MS, 'the goodbye notice')
          noticed++
          const pong = c.received.findIndex((m) => m.type === 'pong' && m.id === `last-${i}`)
          const notice = c.received.findIndex((m) => m.type === 'server_shutdown')
          c.close()
          if (pong === -1) continue
          answered++
          if (pong > notice) answeredLate++
        }
        await line(
          (l) => l.msg === 'reload complete' && l.generation === generation,
          `reload ${generation - 1} to complete`,
        )
        log(`reload: generation ${generation} serving, ${running.loop.greeted} greeted so far`)
      }
    } finally {
      const loop = await running.stop()
      const failed = [...loop.failures.values()].reduce((a, b) => a + b, 0)
      report.figures.reloads = reloads
      report.figures['connections made'] = loop.attempts
      report.figures.greeted = loop.greeted
      report.figures['refused, reset or not greeted'] = failed
      if (failed > 0)
        report.figures['failures by reason'] = [...loop.failures]
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')
      report.figures['workers that greeted'] = loop.workers.size
      report.figures['connected clients noticed'] = `${noticed} of ${reloads * resident}`
      report.figures['last pings answered before the notice'] = answered - answeredLate
      expect(report, failed === 0, `${failed} connections refused, reset or never greeted`)
      expect(report, loop.greeted === loop.attempts, 'not every connection was greeted')
      expect(
        report,
        loop.workers.size >= 2 * (reloads + 1),
        `the loop reached ${loop.workers.size} workers, not all ${2 * (reloads + 1)}`,
      )
      expect(
        report,
        answered - answeredLate === reloads * resident,
        `${reloads * resident - answered + answeredLate} last pings not answered before the notice`,
      )
      const failedReloads = server.logs().filter((l) => l.msg?.startsWith('reload failed'))
      expect(report, failedReloads.length === 0, `${failedReloads.length} reloads failed`)
    }
  },
}
