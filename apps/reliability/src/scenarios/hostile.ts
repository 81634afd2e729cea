import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeHeader } from '@verb-tcp/binary-frames'
import { encodeMessage } from '@verb-tcp/json-frames'
import type { MuxSession } from '@verb-tcp/mux'
import { HEARTBEAT_FRAME, MessageClient, muxSession } from '../clients.ts'
import { GUARDED_LIMITS } from '../limits.ts'
import { type Progress, startObserver } from '../observer.ts'
import { expect, type Figures, type Mode, type Scenario } from '../scenario.ts'
import { type Ports, rssOf, type ServerProcess } from '../server.ts'
import { DocsUpload } from '../upload.ts'
import { MiB, mib, sleep } from '../util.ts'

/** Hostile clients come from many loopback addresses, unless a phase wants one. */
const hostileAddress = (i: number) => `127.0.1.${1 + (i % 200)}`

interface Attack {
  /** Sockets to destroy when the phase ends. */
  sockets: Set<Socket>
  figures: Figures
  deadline: number
  running: () => boolean
}

interface Phase {
  name: string
  port: keyof Ports
  /** Hostile connections working at once: the observer's fair share of the server is 1/(n+1). */
  attackers(mode: Mode): number
  run(server: ServerProcess, port: number, mode: Mode, attack: Attack): Promise<void>
  /** What the attack itself must have met with, beyond the observer's checks; a failure or undefined. */
  verdict?(figures: Figures): string | undefined
}

function open(port: number, attack: Attack, localAddress: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress })
    socket.on('error', () => {})
    attack.sockets.add(socket)
    socket.once('close', () => attack.sockets.delete(socket))
    socket.once('connect', () => resolve(socket))
    socket.once('close', () => resolve(undefined))
  })
}

/** Bytes that start a frame of each port's protocol and leave it unfinished. */
const PARTIAL: Record<keyof Ports, Buffer> = {
  echo: Buffer.from('a line that never ends'),
  message: Buffer.from('1000\n{"type":"ping","id":"'),
  binary: Buffer.concat([encodeHeader(0x0003, 1000, 0), Buffer.alloc(100, 7)]),
  http: Buffer.from('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n'),
}

function resetMidFrame(port: keyof Ports): Phase {
  return {
    name: `reset mid-frame (${port})`,
    port,
    attackers: () => 16,
    async run(_server, target, _mode, attack) {
      let resets = 0
      let i = 0
      const worker = async () => {
        while (attack.running()) {
          const socket = await open(target, attack, hostileAddress(i++))
          if (!socket) continue
          socket.write(PARTIAL[port])
          await sleep(1 + (i % 10))
          socket.resetAndDestroy()
          resets++
        }
      }
      await Promise.all(Array.from({ length: 16 }, worker))
      attack.figures.resets = resets
    },
  }
}

function slowloris(port: keyof Ports): Phase {
  return {
    name: `slowloris (${port})`,
    port,
    attackers: (mode) => (mode === 'full' ? 1000 : 100),
    async run(_server, target, mode, attack) {
      const count = mode === 'full' ? 1000 : 100
      const sockets = (
        await Promise.all(
          Array.from({ length: count }, (_, i) => open(target, attack, hostileAddress(i))),
        )
      ).filter((s): s is Socket => s !== undefined)
      let offset = 0
      const bytes = Buffer.concat([PARTIAL[port], Buffer.alloc(4096, 0x61)])
      while (attack.running()) {
        for (const socket of sockets)
          if (!socket.destroyed) socket.write(bytes.subarray(offset, offset + 1))
        offset = (offset + 1) % bytes.length
        await sleep(1000)
      }
      attack.figures.opened = sockets.length
      attack.figures['closed by the server'] = sockets.filter((s) => s.destroyed).length
    },
  }
}

function neverReading(port: 'message' | 'echo'): Phase {
  return {
    name: `never-reading clients (${port})`,
    port,
    attackers: (mode) => (mode === 'full' ? 2000 : 100),
    async run(_server, target, mode, attack) {
      const count = mode === 'full' ? 2000 : 100
      const batch =
        port === 'message'
          ? Buffer.concat(
              Array.from({ length: 500 }, (_, i) =>
                encodeMessage({ type: 'ping', id: `flood-${i}` }),
              ),
            )
          : Buffer.alloc(64 * 1024, 0x62)
      const sockets = (
        await Promise.all(
          Array.from({ length: count }, (_, i) => open(target, attack, hostileAddress(i))),
        )
      ).filter((s): s is Socket => s !== undefined)
      for (const socket of sockets) socket.pause()
      let written = 0
      while (attack.running()) {
        for (const socket of sockets) {
          // Our own queue stays small: what the server will not take, we stop offering.
          if (!socket.destroyed && socket.writableLength < 256 * 1024) {
            socket.write(batch)
            written += batch.length
          }
        }
        await sleep(50)
      }
      attack.figures.clients = sockets.length
      attack.figures['bytes offered'] = mib(written)
    },
  }
}

const heartbeatFlood: Phase = {
  name: 'heartbeat flood (binary)',
  port: 'binary',
  attackers: (mode) => (mode === 'full' ? 200 : 32),
  async run(_server, target, mode, attack) {
    const count = mode === 'full' ? 200 : 32
    // 4 MiB of heartbeats in one write, as in the report that found the starvation.
    const flood = Buffer.concat(
      Array.from({ length: (4 * MiB) / HEARTBEAT_FRAME.length }, () => HEARTBEAT_FRAME),
    )
    const sockets = (
      await Promise.all(
        Array.from({ length: count }, (_, i) => open(target, attack, hostileAddress(i))),
      )
    ).filter((s): s is Socket => s !== undefined)
    let frames = 0
    // Half of them never read their pongs, half read and drop them.
    for (const [i, socket] of sockets.entries()) {
      if (i % 2 === 0) socket.pause()
      else socket.resume()
    }
    while (attack.running()) {
      for (const socket of sockets) {
        if (!socket.destroyed && socket.writableLength === 0) {
          socket.write(flood)
          frames += flood.length / HEARTBEAT_FRAME.length
        }
      }
      await sleep(100)
    }
    attack.figures.clients = sockets.length
    attack.figures['heartbeats offered'] = frames
  },
}

const resetMidUpload: Phase = {
  name: 'reset mid-upload (message)',
  port: 'message',
  attackers: () => 8,
  async run(_server, target, _mode, attack) {
    let resets = 0
    let n = 0
    const worker = async (w: number) => {
      while (attack.running()) {
        const socket = await open(target, attack, hostileAddress(w))
        if (!socket) continue
        const client = new MessageClient(socket, { keep: false })
        try {
          await client.nextOfType('welcome')
          const id = `reset-${w}-${n++}`
          const upload = new DocsUpload(id, `${id}.bin`, randomBytes(256 * 1024), 16 * 1024)
          await upload.send(client, await upload.start(client), { until: 96 * 1024 })
          // The next chunk goes out half-written, then the connection is reset.
          socket.write(
            encodeMessage({
              type: 'file_chunk',
              transferId: id,
              offset: upload.acked,
              data: 'AAAA'.repeat(4096),
            }).subarray(0, 5000),
          )
        } catch {
          // A refusal or a closed connection: the attack goes on with a new one.
        }
        socket.resetAndDestroy()
        resets++
      }
    }
    await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)))
    attack.figures['uploads reset'] = resets
  },
}

const muxFlood: Phase = {
  name: 'mux stream open/reset flood (binary)',
  port: 'binary',
  attackers: (mode) => (mode === 'full' ? 20 : 4),
  async run(_server, target, mode, attack) {
    const count = mode === 'full' ? 20 : 4
    let opened = 0
    let sessions = 0
    let closedByServer = 0
    const worker = async (i: number) => {
      while (attack.running()) {
        const socket = await open(target, attack, hostileAddress(i))
        if (!socket) continue
        let session: MuxSession
        try {
          session = await muxSession(socket)
        } catch {
          continue
        }
        sessions++
        // Rapid reset: open a stream and reset it at once, as fast as the session lets us.
        while (attack.running() && !session.closed) {
          for (let k = 0; k < 100 && !session.closed; k++) {
            try {
              const stream = session.open('echo')
              stream.on('error', () => {})
              stream.reset()
              opened++
            } catch {
              break
            }
          }
          await new Promise((resolve) => setImmediate(resolve))
        }
        if (session.closed && attack.running()) closedByServer++
        session.destroy()
      }
    }
    await Promise.all(Array.from({ length: count }, (_, i) => worker(i)))
    attack.figures.sessions = sessions
    attack.figures['streams opened and reset'] = opened
    attack.figures['sessions closed by the server'] = closedByServer
  },
  // The server's budgets must cut a rapid-reset session off, not merely outlast it.
  verdict: (figures) =>
    figures['sessions closed by the server'] === 0
      ? 'no flooding session was closed by the server (its budgets never went off)'
      : undefined,
}

const connectionFlood: Phase = {
  name: 'connection flood, one address (message)',
  port: 'message',
  attackers: () => 100,
  async run(_server, target, mode, attack) {
    const limit = mode === 'full' ? 15_000 : 1_500
    let attempts = 0
    let accepted = 0
    let refused = 0
    const worker = async () => {
      while (attack.running() && attempts < limit) {
        attempts++
        const socket = await open(target, attack, '127.0.0.1')
        if (!socket) {
          refused++
          continue
        }
        // A refusal is a notice (an `error` frame) and a close; an admission is the welcome.
        const welcomed = await new Promise<boolean>((resolve) => {
          let text = ''
          socket.on('data', (chunk: Buffer) => {
            text += chunk.toString('latin1')
            if (text.includes('welcome')) resolve(true)
            else if (text.includes('ERR_')) resolve(false)
          })
          socket.once('close', () => resolve(false))
          setTimeout(() => resolve(false), 5000).unref()
        })
        if (welcomed) accepted++
        else refused++
      }
    }
    await Promise.all(Array.from({ length: 100 }, worker))
    while (attack.running()) await sleep(100)
    attack.figures.attempts = attempts
    attack.figures['held open'] = accepted
    attack.figures['refused or closed'] = refused
  },
}

function phases(): Phase[] {
  return [
    resetMidFrame('message'),
    resetMidFrame('binary'),
    resetMidFrame('echo'),
    resetMidFrame('http'),
    resetMidUpload,
    neverReading('message'),
    neverReading('echo'),
    slowloris('message'),
    slowloris('binary'),
    slowloris('echo'),
    slowloris('http'),
    heartbeatFlood,
    muxFlood,
    connectionFlood,
  ]
}

function summarize(progress: Progress): string {
  const trips = Object.entries(progress.roundTrips)
    .map(([port, n]) => `${port} ${n}`)
    .join(', ')
  return `round trips ${trips || 'none'}; longest ${progress.maxRoundTrip} ms; new connections ${progress.newConnections} (longest wait ${progress.maxConnectWait} ms)`
}

/**
 * The part of a fair share of the server the observer must get on every port during an attack:
 * with n hostile connections working at once, a server that shares its time evenly gives the
 * observer 1/(n+1) of its quiet pace; it must get at least a tenth of that. A starved observer
 * falls orders of magnitude below.
 */
const FAIR_SHARE_FLOOR = 0.1

/**
 * The longest event-loop stall the server may have during an attack: every other client waits
 * that long. A quiet server stays far below it; a heartbeat flood decoded and answered in one go
 * (the bug this catches) stalls it 350–500 ms per 4 MiB.
 */
const MAX_STALL = 300

/** Longest round trip or wait for a greeting the well-behaved client may see and still count as served. */
const SERVED_WITHIN = 3000

/**
 * Hostile clients, one kind at a time, against a server with its default limits, while the
 * observer (a well-behaved client on every port) keeps doing round trips; its progress in each
 * phase is the figure. The server must stay up, the observer must keep being served.
 */
export const hostile: Scenario = {
  name: 'hostile',
  needs: ['echo'],
  async run({ mode, startServer, log }, report) {
    const seconds = mode === 'full' ? 15 : 3
    const uploadDir = mkdtempSync(join(tmpdir(), 'verb-tcp-reliability-hostile-'))
    const server = await startServer({ flags: { ...GUARDED_LIMITS, 'upload-dir': uploadDir } })
    // VERB_TCP_RELIABILITY_PHASES (a regular expression) runs only the matching phases.
    const only = new RegExp(process.env.VERB_TCP_RELIABILITY_PHASES ?? '')
    const list = phases().filter((p) => server.ports[p.port] !== undefined && only.test(p.name))
    const skipped = phases().filter((p) => server.ports[p.port] === undefined)
    report.load = `${list.length} phases of ${seconds} s each (${mode === 'full' ? 'up to 2,000' : 'up to 100'} clients per phase) against default limits, a well-behaved client on every port throughout`
    const observer = await startObserver(server.ports, { mux: server.ports.binary !== undefined })
    report.figures['observer runs in'] = observer.where
    await sleep(500)
    await observer.take()
    // The observer's pace on a quiet server, against which each phase's pace is judged.
    await sleep(1500)
    const quiet = await observer.take()
    const quietRate: Record<string, number> = {}
    for (const [port, n] of Object.entries(quiet.roundTrips)) quietRate[port] = n / 1.5
    report.figures['observer on a quiet server'] = summarize(quiet)
    const baseRss = rssOf(server.pid)
    let peakRss = baseRss
    for (const phase of list) {
      log(`hostile: ${phase.name}`)
      const attack: Attack = {
        sockets: new Set(),
        figures: {},
        deadline: Date.now() + seconds * 1000,
        running: () => Date.now() < attack.deadline && server.alive,
      }
      await server.stats(false)
      const phaseStart = Date.now()
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, rssOf(server.pid) || 0)
      }, 250)
      await phase.run(server, server.ports[phase.port] as number, mode, attack)
      clearInterval(sampler)
      // A reset, not a FIN: what the attackers queued is dropped by the kernel instead of being
      // left for the server to work through after the phase.
      for (const socket of attack.sockets) if (!socket.destroyed) socket.resetAndDestroy()
      const phaseSeconds = (Date.now() - phaseStart) / 1000
      const after = await server.stats(false)
      const stall = Math.round(after.busyStallMax)
      const wallStall = Math.round(after.loopDelayMax)
      const progress = await observer.take()
      const attackFigures = Object.entries(attack.figures)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toLocaleString('en') : v}`)
        .join(', ')
      report.figures[phase.name] =
        `${attackFigures}; observer: ${summarize(progress)}; server event-loop stall max ${stall} ms busy (${wallStall} ms wall)`
      expect(
        report,
        stall <= MAX_STALL,
        `${phase.name}: the server's event loop stalled for ${stall} ms of CPU (one connection's work must be bounded per turn)`,
      )
      // Every loop of the observer that made progress on the quiet server (echo, message, binary, mux).
      const ports = Object.keys(quietRate)
      const floor = FAIR_SHARE_FLOOR / (phase.attackers(mode) + 1)
      for (const port of ports) {
        const quietTrips = (quietRate[port] ?? 0) * phaseSeconds
        expect(
          report,
          (progress.roundTrips[port] ?? 0) >= floor * quietTrips,
          `${phase.name}: the observer made ${progress.roundTrips[port] ?? 0} ${port} round trips in ${phaseSeconds.toFixed(1)} s, under a tenth of a fair share (${(floor * quietTrips).toFixed(1)}: ${Math.round(quietTrips)} on a quiet server / ${phase.attackers(mode) + 1} clients / 10)`,
        )
      }
      expect(
        report,
        progress.maxRoundTrip <= SERVED_WITHIN,
        `${phase.name}: an observer round trip took ${progress.maxRoundTrip} ms`,
      )
      expect(report, progress.newConnections > 0, `${phase.name}: no new connection was greeted`)
      expect(
        report,
        progress.maxConnectWait <= SERVED_WITHIN,
        `${phase.name}: a new connection waited ${progress.maxConnectWait} ms for its greeting`,
      )
      const verdict = phase.verdict?.(attack.figures)
      expect(report, verdict === undefined, `${phase.name}: ${verdict}`)
      expect(
        report,
        progress.failures.length === 0,
        `${phase.name}: observer failures: ${progress.failures.slice(0, 3).join('; ')}`,
      )
      if (
        !expect(
          report,
          server.alive,
          `${phase.name}: the server died (exit ${server.exitCode ?? server.exitSignal})`,
        )
      )
        break
      // The next attack starts on a server that serves the observer again: how long that took
      // is a figure of its own (work the attack left queued in the server).
      const recoveryStart = Date.now()
      let recovered = false
      while (!recovered && Date.now() - recoveryStart < 60_000) {
        await sleep(250)
        const window = await observer.take()
        recovered = ports.every((port) => (window.roundTrips[port] ?? 0) > 0)
      }
      report.figures[phase.name] +=
        `; recovered ${recovered ? `in ${Date.now() - recoveryStart} ms` : 'NOT within 60 s'}`
      expect(
        report,
        recovered,
        `${phase.name}: the observer was not served again within 60 s after the attack`,
      )
      await observer.take()
    }
    await observer.stop()
    const partials = readdirSync(uploadDir, { recursive: true }).length
    report.figures['upload dir entries after the attacks'] = partials
    rmSync(uploadDir, { recursive: true, force: true })
    report.figures['server peak rss'] = `${mib(peakRss)} (start ${mib(baseRss)})`
    if (skipped.length > 0)
      report.figures['not run (no such port)'] = skipped.map((p) => p.name).join(', ')
  },
}
