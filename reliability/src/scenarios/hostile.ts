import { connect, type Socket } from 'node:net'
import { encodeHeader } from '@verb-tcp/binary-frames'
import { encodeMessage } from '@verb-tcp/json-frames'
import { HEARTBEAT_FRAME } from '../clients.ts'
import { Observer, type Progress } from '../observer.ts'
import { expect, type Figures, type Mode, type Scenario } from '../scenario.ts'
import { type Ports, rssOf, type ServerProcess } from '../server.ts'
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
  run(server: ServerProcess, port: number, mode: Mode, attack: Attack): Promise<void>
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
  async run(_server, target, mode, attack) {
    const count = mode === 'full' ? 200 : 8
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

const connectionFlood: Phase = {
  name: 'connection flood, one address (message)',
  port: 'message',
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
        const answered = await new Promise<boolean>((resolve) => {
          socket.once('data', () => resolve(true))
          socket.once('close', () => resolve(false))
          setTimeout(() => resolve(true), 2000).unref()
        })
        if (answered && !socket.destroyed) accepted++
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
    neverReading('message'),
    neverReading('echo'),
    slowloris('message'),
    slowloris('binary'),
    slowloris('echo'),
    slowloris('http'),
    heartbeatFlood,
    connectionFlood,
  ]
}

function summarize(progress: Progress): string {
  const trips = Object.entries(progress.roundTrips)
    .map(([port, n]) => `${port} ${n}`)
    .join(', ')
  return `round trips ${trips || 'none'}; longest ${progress.maxRoundTrip} ms; new connections ${progress.newConnections} (longest wait ${progress.maxConnectWait} ms)`
}

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
    const server = await startServer()
    const list = phases().filter((p) => server.ports[p.port] !== undefined)
    const skipped = phases().filter((p) => server.ports[p.port] === undefined)
    report.load = `${list.length} phases of ${seconds} s each (${mode === 'full' ? 'up to 2,000' : 'up to 100'} clients per phase) against default limits, a well-behaved client on every port throughout`
    const observer = new Observer(server)
    observer.start()
    await sleep(500)
    observer.take()
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
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, rssOf(server.pid) || 0)
      }, 250)
      await phase.run(server, server.ports[phase.port] as number, mode, attack)
      clearInterval(sampler)
      for (const socket of attack.sockets) socket.destroy()
      const progress = observer.take()
      const attackFigures = Object.entries(attack.figures)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toLocaleString('en') : v}`)
        .join(', ')
      report.figures[phase.name] = `${attackFigures}; observer: ${summarize(progress)}`
      const ports = Object.keys(server.ports).filter((p) => p !== 'http')
      for (const port of ports) {
        expect(
          report,
          (progress.roundTrips[port] ?? 0) > 0,
          `${phase.name}: the observer made no ${port} round trip`,
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
      // Let the server clean up before the next kind of attack.
      await sleep(300)
      observer.take()
    }
    await observer.stop()
    report.figures['server peak rss'] = `${mib(peakRss)} (start ${mib(baseRss)})`
    if (skipped.length > 0)
      report.figures['not run (no such port)'] = skipped.map((p) => p.name).join(', ')
  },
}
