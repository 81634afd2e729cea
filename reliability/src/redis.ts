import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { connectTo } from './util.ts'

/** Whether this is a CI run (`CI` set to anything but empty, `0` or `false`). */
export function isCI(): boolean {
  const ci = process.env.CI?.trim().toLowerCase()
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false'
}

/** Whether `redis-server` is on PATH (CI installs the Debian package). */
export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** A throwaway `redis-server` on loopback, no persistence, that can be stopped and started again. */
export class RedisProcess {
  #child: ChildProcess | undefined
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  static async start(): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort())
    await redis.start()
    return redis
  }

  async start(): Promise<void> {
    this.#child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    )
    let up = false
    for (let i = 0; i < 100 && !up; i++) {
      try {
        ;(await connectTo(this.port, 1000)).destroy()
        up = true
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    if (!up) throw new Error(`redis-server did not start on port ${this.port}`)
  }

  async stop(): Promise<void> {
    const child = this.#child
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
}
