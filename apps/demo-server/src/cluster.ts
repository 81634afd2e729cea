import cluster, { type Worker } from 'node:cluster'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { CloseResult } from '@verb-tcp/core'
import type { Logger } from 'pino'
import { AggregatorRegistry } from 'prom-client'
import type { ServerConfig } from './args.ts'
import { type BoundPorts, Demo } from './demo.ts'
import { createHttpServer } from './http-server.ts'
import { couldNotListen } from './listen-error.ts'
import { roomsAdapter } from './redis.ts'
import { onShutdownSignals } from './signals.ts'

/** Messages between the primary and its workers (over the cluster's IPC channel). */
type ToPrimary =
  | { verb: 'ready'; ports: BoundPorts }
  | { verb: 'listen-failed'; error: { code?: string; message: string; port?: number } }
  | { verb: 'closed'; result: CloseResult }
type ToWorker = { verb: 'shutdown'; phase: 'graceful' | 'force' }

const isOurs = (m: unknown): m is { verb: string } =>
  typeof m === 'object' && m !== null && typeof (m as { verb?: unknown }).verb === 'string'

/**
 * `--workers N`: the primary forks N workers that each run every TCP port (node:cluster shares
 * the listening sockets, so they are the same ports), serves the HTTP port itself with the
 * workers' metrics added up, logs `listening` once every worker is ready, and on a signal tells
 * the workers to close, waits for them, and exits.
 */
export async function runPrimary(config: ServerConfig, logger: Logger): Promise<void> {
  const workers = new Set<Worker>()
  const results: CloseResult[] = []
  let shuttingDown = false
  let ready = 0
  let ports: BoundPorts | undefined
  let startFailed = false

  const fork = () => {
    const worker = cluster.fork()
    workers.add(worker)
    worker.on('message', (message: unknown) => {
      if (!isOurs(message)) return
      const m = message as ToPrimary
      if (m.verb === 'ready') {
        ports ??= m.ports
        ready++
        if (ready === config.workers) void allReady()
      } else if (m.verb === 'listen-failed') {
        if (!startFailed) {
          startFailed = true
          const error = Object.assign(new Error(m.error.message), m.error)
          couldNotListen(logger, config, error)
          process.exitCode = 1
          for (const w of workers) w.kill()
        }
      } else if (m.verb === 'closed') {
        results.push(m.result)
      }
    })
    worker.on('exit', (code, signal) => {
      workers.delete(worker)
      if (shuttingDown || startFailed) return
      // A worker that died outside a shutdown is replaced, so the ports keep being served.
      logger.error({ worker: worker.id, code, signal }, 'worker died; starting another')
      fork()
    })
  }
  for (let i = 0; i < config.workers; i++) fork()

  const aggregator = new AggregatorRegistry()
  const http = createHttpServer({
    logger,
    metrics: async () => ({
      text: await aggregator.clusterMetrics(),
      contentType: aggregator.contentType,
    }),
    health: () => ({ ok: !shuttingDown, workers: workers.size }),
  })

  const allReady = async () => {
    if (!ports) return
    http.listen(config.httpPort, config.host)
    try {
      await Promise.race([
        once(http, 'listening'),
        once(http, 'error').then(([error]) => Promise.reject(error)),
      ])
    } catch (error) {
      startFailed = true
      couldNotListen(logger, config, error)
      process.exitCode = 1
      for (const w of workers) w.kill()
      return
    }
    ports.http = (http.address() as AddressInfo).port
    logger.info({ host: config.host, ports, workers: config.workers }, 'listening')
  }

  const tell = (phase: ToWorker['phase']) => {
    for (const w of workers)
      if (w.isConnected()) w.send({ verb: 'shutdown', phase } satisfies ToWorker)
  }
  onShutdownSignals({
    onGraceful: (signal) => {
      shuttingDown = true
      logger.info(
        { signal, workers: workers.size, gracePeriod: config.gracePeriod },
        'shutting down',
      )
      tell('graceful')
      void (async () => {
        while (workers.size > 0) await once(cluster, 'exit')
        await new Promise<void>((resolve) => http.close(() => resolve()))
        const total = results.reduce(
          (t, r) => ({ closed: t.closed + r.closed, forced: t.forced + r.forced }),
          {
            closed: 0,
            forced: 0,
          },
        )
        logger.info(total, 'server closed')
        process.exit(0)
      })()
      http.closeIdleConnections()
    },
    onForce: (signal) => {
      logger.warn({ signal }, 'second signal: closing the remaining connections now')
      tell('force')
    },
  })
}

/** One worker: every TCP port, no HTTP; closes when the primary (or a signal) says so. */
export async function runWorker(config: ServerConfig, logger: Logger): Promise<void> {
  const id = cluster.worker?.id ?? 0
  const log = logger.child({ worker: id })
  const scaleOut = await roomsAdapter(config, log)
  const demo = new Demo({
    config,
    logger: log,
    http: false,
    ...scaleOut,
    idPrefix: `${scaleOut.idPrefix ?? ''}w${id}-`,
  })
  // Constructing one is what makes prom-client answer the primary's requests for metrics.
  new AggregatorRegistry()
  AggregatorRegistry.setRegistries([demo.registry])
  const send = (message: ToPrimary) =>
    new Promise<void>((resolve) => process.send?.(message, undefined, {}, () => resolve()))
  try {
    const ports = await demo.listen()
    await send({ verb: 'ready', ports })
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { port?: number }
    await send({
      verb: 'listen-failed',
      error: {
        message: err.message,
        ...(err.code && { code: err.code }),
        ...(err.port !== undefined && { port: err.port }),
      },
    })
    process.exit(1)
  }

  let closing = false
  const graceful = () => {
    if (closing) return
    closing = true
    log.info({ connections: demo.connections }, 'worker shutting down')
    void demo.close(config.gracePeriod).then(async (result) => {
      await send({ verb: 'closed', result })
      process.exit(0)
    })
  }
  const force = () => {
    graceful()
    void demo.close(0)
  }
  process.on('message', (message: unknown) => {
    if (!isOurs(message) || message.verb !== 'shutdown') return
    if ((message as ToWorker).phase === 'force') force()
    else graceful()
  })
  // A terminal's Ctrl-C reaches the workers too (same process group): the first starts the
  // graceful close (the primary's message then changes nothing), a second forces it.
  onShutdownSignals({ onGraceful: graceful, onForce: force })
}
