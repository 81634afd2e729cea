// Starts a private redis-server for a test file: a free loopback port, no persistence, stopped
// at the end. Without the binary the Redis tests are skipped with the reason on a developer's
// machine (`npm test` installs it first where it can), and fail under CI, where a skip would
// hide that the cross-process behaviour went untested.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer, Socket } from 'node:net'
import { afterAll, beforeAll, beforeEach } from 'vitest'

/** The redis-server the tests run: `REDIS_SERVER` (empty counts as unset, as for `npm test`) or PATH's. */
export const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server'

/** Why Redis tests cannot run here (how to install it), or `undefined` when they can. */
export function redisServerMissing(binary = REDIS_SERVER): string | undefined {
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' })
  if (probe.error === undefined && probe.status === 0) return undefined
  return (
    `${binary} was not found, and these tests need a real Redis. Install it ` +
    '(Debian/Ubuntu: `apt-get install -y redis-server`; macOS: `brew install redis`) or point ' +
    'REDIS_SERVER at the binary. `npm test` installs it by itself as root (apt-get) or with Homebrew.'
  )
}

/** Whether `env` is a CI run (`CI` set to anything but empty, `0` or `false`). */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI?.trim().toLowerCase()
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false'
}

/**
 * Why the Redis tests are skipped, or `undefined` when they run: they are skipped only where
 * redis-server is missing and this is not CI. Under CI they run, and fail with `missing`.
 */
export function redisSkipReason(
  missing: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return missing !== undefined && !isCI(env) ? missing : undefined
}

/**
 * The Redis of one test file: started before its tests and stopped after them. Where
 * `redisSkipReason` says so, nothing is started and each test is skipped with the reason.
 */
export function useRedis(): RedisServer {
  const skip = skipWithoutRedis()
  const server = new RedisServer()
  beforeAll(async () => {
    if (skip === undefined) await server.launch()
  })
  afterAll(() => server.stop())
  return server
}

/**
 * Skips each test of the current file or `describe` with the reason, where `redisSkipReason`
 * says so; returns that reason.
 */
export function skipWithoutRedis(): string | undefined {
  const skip = redisSkipReason(redisServerMissing())
  if (skip !== undefined) beforeEach((context) => context.skip(skip))
  return skip
}

/** A port free on loopback right now. */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

async function answersPing(port: number): Promise<boolean> {
  const socket = new Socket()
  try {
    socket.setTimeout(1000)
    const reply = new Promise<boolean>((resolve) => {
      let got = ''
      socket.on('data', (chunk) => {
        got += String(chunk)
        if (got.includes('\r\n')) resolve(got.startsWith('+PONG'))
      })
      socket.on('error', () => resolve(false))
      socket.on('timeout', () => resolve(false))
      socket.on('close', () => resolve(false))
    })
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'))
    return await reply
  } finally {
    socket.destroy()
  }
}

export class RedisServer {
  #child: ChildProcess | undefined
  #log = ''
  #port = 0

  /** Starts redis-server on a free loopback port; throws (with install hints) if it cannot. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer()
    await server.launch()
    return server
  }

  /** Starts this (not yet started) server on a free loopback port. */
  async launch(): Promise<void> {
    const missing = redisServerMissing()
    if (missing !== undefined) throw new Error(missing)
    let lastError: unknown
    for (let attempt = 0; attempt < 5; attempt++) {
      this.#port = await freePort()
      try {
        await this.#spawn()
        return
      } catch (error) {
        lastError = error
      }
    }
    throw lastError
  }

  get port(): number {
    return this.#port
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.#child !== undefined
  }

  async #spawn(): Promise<void> {
    const child = spawn(
      REDIS_SERVER,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    this.#child = child
    this.#log = ''
    child.stdout?.on('data', (chunk) => {
      this.#log = (this.#log + String(chunk)).slice(-4000)
    })
    child.stderr?.on('data', (chunk) => {
      this.#log = (this.#log + String(chunk)).slice(-4000)
    })
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined
    })
    // Up to about 10 s for the server to answer PING.
    for (let i = 0; i < 200; i++) {
      if (this.#child !== child) break
      if (await answersPing(this.port)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await this.stop()
    throw new Error(`redis-server did not start on port ${this.port}:\n${this.#log}`)
  }

  /** Stops the server (SIGTERM, then SIGKILL if it lingers) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    this.#child = undefined
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }

  /**
   * Freezes the server (SIGSTOP): connections stay open and commands written to them get no
   * answer, so they are still in flight when `crash()` follows.
   */
  freeze(): void {
    this.#child?.kill('SIGSTOP')
  }

  /** Lets a frozen server go on (SIGCONT): it answers what was written meanwhile. */
  thaw(): void {
    this.#child?.kill('SIGCONT')
  }

  /** Kills the server at once (SIGKILL, even when frozen) and waits for it to exit. */
  async crash(): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    this.#child = undefined
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  /** Starts it again on the same port, empty (nothing is persisted). */
  async restart(): Promise<void> {
    await this.stop()
    await this.#spawn()
  }
}
