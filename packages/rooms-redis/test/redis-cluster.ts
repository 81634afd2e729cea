// A private three-master Redis Cluster for a test file: redis-server --cluster-enabled three
// times on free loopback ports (client and bus ports both chosen free), joined with
// `redis-cli --cluster create`, no persistence, removed at the end. Skipped or failed like the
// single server (see redis-server.ts) where the binaries are missing.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { freePort, REDIS_SERVER, skipWithoutRedis } from './redis-server.ts'

function cli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr || r.stdout}`)
  return r.stdout
}

export class RedisCluster {
  readonly ports: number[] = []
  readonly #children = new Map<number, ChildProcess>()
  readonly #bus = new Map<number, number>()
  #dir = ''

  get nodes(): { host: string; port: number }[] {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }))
  }

  /** Starts the three masters and waits until the cluster serves every slot. */
  async launch(): Promise<void> {
    this.#dir = mkdtempSync(join(tmpdir(), 'verb-tcp-cluster-'))
    for (let i = 0; i < 3; i++) {
      const port = await freePort()
      this.#bus.set(port, await freePort())
      this.ports.push(port)
      this.#spawn(port)
    }
    for (const port of this.ports) await this.#until(() => cli(port, 'PING').includes('PONG'))
    spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'],
      { encoding: 'utf8', timeout: 60_000 },
    )
    for (const port of this.ports) {
      await this.#until(() => cli(port, 'CLUSTER', 'INFO').includes('cluster_state:ok'))
    }
  }

  /** Whether a live master says the cluster serves every slot (`cluster_state:ok`). */
  servesEverySlot(): boolean {
    for (const port of this.ports) {
      try {
        return cli(port, 'CLUSTER', 'INFO').includes('cluster_state:ok')
      } catch {}
    }
    return false
  }

  /** The port of the master serving `key`'s slot. */
  masterOf(key: string): number {
    const slot = Number(cli(this.ports[0] as number, 'CLUSTER', 'KEYSLOT', key).trim())
    for (const line of cli(this.ports[0] as number, 'CLUSTER', 'NODES').split('\n')) {
      const fields = line.split(' ')
      if (!fields[2]?.includes('master')) continue
      const port = Number(fields[1]?.split(':')[1]?.split('@')[0])
      for (const range of fields.slice(8)) {
        const [from, to = from] = range.split('-').map(Number)
        if (from !== undefined && to !== undefined && slot >= from && slot <= to) return port
      }
    }
    throw new Error(`no master serves slot ${slot}`)
  }

  /** Starts a killed master again: it rejoins with its slots, empty (nothing is persisted). */
  async restart(port: number): Promise<void> {
    this.#spawn(port)
    await this.#until(() => cli(port, 'CLUSTER', 'INFO').includes('cluster_state:ok'))
  }

  #spawn(port: number): void {
    const child = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(port),
        '--cluster-port',
        String(this.#bus.get(port)),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(this.#dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
        '--dir',
        this.#dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    )
    this.#children.set(port, child)
  }

  /** Kills one master at once (SIGKILL) and waits for it to exit. */
  async kill(port: number): Promise<void> {
    const child = this.#children.get(port)
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  async stop(): Promise<void> {
    await Promise.all(this.ports.map((port) => this.kill(port)))
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true })
  }

  /** Polls `check` (about 20 s at most); a throw counts as not yet. */
  async #until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 200; i++) {
      try {
        if (check()) return
      } catch {}
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error('the Redis Cluster did not come up')
  }
}

/** The cluster of one test file, like `useRedis()`: started before its tests, stopped after. */
export function useRedisCluster(): RedisCluster {
  const skip = skipWithoutRedis()
  const cluster = new RedisCluster()
  beforeAll(async () => {
    if (skip === undefined) await cluster.launch()
  }, 90_000)
  afterAll(() => cluster.stop())
  return cluster
}
