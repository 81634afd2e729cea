import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
/** The package root, from `src/` (vitest) and from `dist/` (the built CLI) alike. */
export const PACKAGE_ROOT = join(here, '..')
export const REPO_ROOT = join(PACKAGE_ROOT, '..', '..')
/** The target of every scenario: the demo server as built by `npm test` / `npm start`. */
export const DEFAULT_SERVER_BIN = join(REPO_ROOT, 'apps', 'demo-server', 'dist', 'cli.js')
const PROBE = join(PACKAGE_ROOT, 'probe.cjs')

export interface Ports {
  echo?: number
  message?: number
  binary?: number
  http?: number
}

export interface ServerStats {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
  handles: number
  fds: number
  /** The server's longest event-loop stall (ms) since the previous stats read. */
  loopDelayMax: number
  /** The longest stall counted in CPU time (ms): what the server's own work caused. */
  busyStallMax: number
}

export interface StartOptions {
  bin?: string
  /** Flags beyond the ports; ones the binary does not list in `--help` are left out (and reported). */
  flags?: Record<string, string | number | boolean>
  env?: Record<string, string>
  /** Ms to wait for the "listening" line. */
  startTimeout?: number
}

const flagCache = new Map<string, Set<string>>()

/** The flags a server binary lists in its `--help`, so the suite adapts to what it supports. */
export function supportedFlags(bin: string = DEFAULT_SERVER_BIN): Set<string> {
  let flags = flagCache.get(bin)
  if (flags) return flags
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 20_000 })
  flags = new Set([...`${help.stdout}`.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1] as string))
  flagCache.set(bin, flags)
  return flags
}

const MAX_LOG_LINES = 20_000

function parseLine(text: string): LogLine {
  try {
    return JSON.parse(text) as LogLine
  } catch {
    return { msg: text }
  }
}

/** One log line of the server (pino JSON), parsed. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number }

/**
 * The demo server as a child process: started from its built binary with every port at 0,
 * ports read from its "listening" log line, its log kept for the scenarios to inspect, and its
 * memory and handle figures available through a probe loaded with `--require`.
 */
export class ServerProcess {
  readonly child: ChildProcess
  readonly rawLogs: string[] = []
  readonly stderr: string[] = []
  readonly ignoredFlags: string[]
  ports: Ports = {}
  exitCode: number | null = null
  exitSignal: NodeJS.Signals | null = null
  readonly exited: Promise<void>
  #statsId = 0
  #pending = new Map<number, (stats: Omit<ServerStats, 'fds'>) => void>()
  #lineWaiters: Array<{ test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = []

  private constructor(
    readonly bin: string,
    args: string[],
    ignoredFlags: string[],
    env: Record<string, string>,
  ) {
    this.ignoredFlags = ignoredFlags
    this.child = spawn(process.execPath, ['--expose-gc', '--require', PROBE, bin, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...env },
    })
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code
        this.exitSignal = signal
        resolve()
      })
    })
    this.child.on('message', (message: { type?: string; id?: number } & ServerStats) => {
      if (message?.type !== 'reliability:stats' || message.id === undefined) return
      this.#pending.get(message.id)?.(message)
      this.#pending.delete(message.id)
    })
    // The IPC channel must not keep the suite's process alive either.
    this.child.channel?.unref()
    // Logs at info can be a line per connection: kept raw (the last MAX_LOG_LINES) and parsed
    // only when a waiter asks for one.
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      this.rawLogs.push(text)
      if (this.rawLogs.length > MAX_LOG_LINES) this.rawLogs.splice(0, MAX_LOG_LINES / 2)
      if (this.#lineWaiters.length === 0) return
      const line = parseLine(text)
      for (const waiter of [...this.#lineWaiters]) {
        if (waiter.test(line)) {
          this.#lineWaiters.splice(this.#lineWaiters.indexOf(waiter), 1)
          waiter.resolve(line)
        }
      }
    })
    createInterface({ input: this.child.stderr as NodeJS.ReadableStream }).on('line', (text) => {
      this.stderr.push(text)
    })
  }

  get pid(): number {
    return this.child.pid as number
  }

  get alive(): boolean {
    return this.exitCode === null && this.exitSignal === null
  }

  static async start(options: StartOptions = {}): Promise<ServerProcess> {
    const bin = options.bin ?? DEFAULT_SERVER_BIN
    const known = supportedFlags(bin)
    const wanted: Record<string, string | number | boolean> = {
      host: '127.0.0.1',
      port: 0,
      'message-port': 0,
      'binary-port': 0,
      'http-port': 0,
      'log-level': 'info',
      ...options.flags,
    }
    const args: string[] = []
    const ignored: string[] = []
    for (const [name, value] of Object.entries(wanted)) {
      if (!known.has(name)) {
        ignored.push(name)
        continue
      }
      if (value === true) args.push(`--${name}`)
      else if (value !== false) args.push(`--${name}`, String(value))
    }
    const env: Record<string, string> = { ...options.env }
    // Today's demo reads its level from LOG_LEVEL only.
    if (!known.has('log-level') && typeof wanted['log-level'] === 'string')
      env.LOG_LEVEL = wanted['log-level']
    const server = new ServerProcess(bin, args, ignored, env)
    const listening = await Promise.race([
      server.waitForLog((line) => line.msg === 'listening'),
      server.exited.then((): null => null),
      new Promise<null>((resolve) =>
        setTimeout(() => resolve(null), options.startTimeout ?? 30_000).unref(),
      ),
    ])
    if (listening === null) {
      server.kill('SIGKILL')
      throw new Error(
        `server did not start: exit ${server.exitCode ?? server.exitSignal}; ${server.stderr.slice(-5).join(' | ')}`,
      )
    }
    const ports = listening.ports as Ports | undefined
    server.ports = ports ?? { echo: listening.port as number }
    return server
  }

  /** The log lines kept so far, parsed. */
  logs(): LogLine[] {
    return this.rawLogs.map(parseLine)
  }

  /** Resolves with the first log line (from now on, or already logged) that passes `test`. */
  waitForLog(test: (line: LogLine) => boolean): Promise<LogLine> {
    const seen = this.logs().find(test)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.#lineWaiters.push({ test, resolve }))
  }

  /** Memory (after a full GC when `gc`), active handles and open fds of the server process. */
  async stats(gc = true): Promise<ServerStats> {
    const id = ++this.#statsId
    const reply = new Promise<Omit<ServerStats, 'fds'>>((resolve, reject) => {
      this.#pending.set(id, resolve)
      setTimeout(() => reject(new Error('server did not answer the stats probe')), 20_000).unref()
    })
    this.child.send({ type: 'reliability:stats', id, gc })
    const stats = await reply
    return { ...stats, fds: openFds(this.pid) }
  }

  /** `/metrics` parsed into `name{labels}` → value (empty when the server has no HTTP port). */
  async metrics(): Promise<Map<string, number>> {
    if (!this.ports.http) return new Map()
    const response = await fetch(`http://127.0.0.1:${this.ports.http}/metrics`)
    return parsePrometheus(await response.text())
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal)
  }

  /** SIGTERM, then SIGKILL if it is still running after `timeout` ms. */
  async stop(timeout = 15_000): Promise<void> {
    if (!this.alive) return
    this.kill('SIGTERM')
    const timer = setTimeout(() => this.kill('SIGKILL'), timeout)
    await this.exited
    clearTimeout(timer)
  }
}

export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return Number.NaN
  }
}

export function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

/** Prometheus text exposition → `name{labels}` → value. Comments and bad lines are skipped. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?)\s+(\S+)/.exec(line)
    if (match) out.set(match[1] as string, Number(match[2]))
  }
  return out
}

/**
 * Sum of every series of a metric whose labels include each of `labels` (all series when none
 * are given), or undefined when the metric is absent.
 */
export function metricSum(
  metrics: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  let sum: number | undefined
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const [key, value] of metrics) {
    if (key !== name && !key.startsWith(`${name}{`)) continue
    if (!wanted.every((label) => key.includes(label))) continue
    sum = (sum ?? 0) + value
  }
  return sum
}
