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
import { isRoomsMessage, nodeIdOf, PrimaryRoomsAdapter, relayRooms } from './primary-rooms.ts'
import { roomsAdapter } from './redis.ts'
import { onReloadSignal, onShutdownSignals } from './signals.ts'

/** Messages between the primary and its workers (over the cluster's IPC channel). */
type ToPrimary =
  | { verb: 'ready'; ports: BoundPorts }
  | { verb: 'listen-failed'; error: { code?: string; message: string; port?: number } }
  | { verb: 'closed'; result: CloseResult }
type ToWorker =
  | { verb: 'shutdown'; phase: 'graceful' | 'force'; reason?: 'reload' }
  /** The answer to `closed`: every connection handed to the worker before it is settled. */
  | { verb: 'exit' }

const isOurs = (m: unknown): m is { verb: string } =>
  typeof m === 'object' && m !== null && typeof (m as { verb?: unknown }).verb === 'string'

/** What the primary knows of one worker. */
interface Member {
  worker: Worker
  /** 1 for the workers started first, one more for each reload. */
  generation: number
  /** Listening on every port. */
  ready: boolean
  /** Told to close (a reload replaced it, or a shutdown): its exit is expected. */
  retiring: boolean
  /** Settles once the worker is listening (true) or has failed to (false). */
  started: Promise<boolean>
  settle: (listening: boolean) => void
}

const sum = (results: CloseResult[]): CloseResult =>
  results.reduce((t, r) => ({ closed: t.closed + r.closed, forced: t.forced + r.forced }), {
    closed: 0,
    forced: 0,
  })

/**
 * `--workers N`: the primary forks N workers that each run every TCP port (node:cluster shares
 * the listening sockets, so they are the same ports), serves the HTTP port itself with the
 * workers' metrics added up, logs `listening` once every worker is ready, and on a signal tells
 * the workers to close, waits for them, and exits.
 *
 * SIGHUP reloads without refusing a connection: a new generation of N workers is started; once
 * every one of them is listening, the old ones close as on SIGTERM (they stop accepting, so the
 * primary hands new connections to the new workers only; their clients get the goodbye notice;
 * they drain for the grace period; they exit). If a new worker cannot start, the new generation
 * is stopped and the old one goes on serving.
 */
export async function runPrimary(config: ServerConfig, logger: Logger): Promise<void> {
  const members = new Map<Worker, Member>()
  const results: CloseResult[] = []
  let shuttingDown = false
  let startFailed = false
  let listening = false
  /** The last generation started (a failed reload's too), and the one serving. */
  let generation = 1
  let serving = 1
  let ports: BoundPorts | undefined
  /** What the workers retired by the last reload reported when they closed. */
  let retired: CloseResult[] = []
  // Without --redis, the workers' rooms reach each other through here.
  const rooms = relayRooms(() => members.keys())

  const fork = (gen: number): Member => {
    const worker = cluster.fork()
    let settle!: (listening: boolean) => void
    const started = new Promise<boolean>((resolve) => {
      settle = resolve
    })
    const member: Member = {
      worker,
      generation: gen,
      ready: false,
      retiring: false,
      started,
      settle,
    }
    members.set(worker, member)
    worker.on('message', (message: unknown) => {
      if (isRoomsMessage(message)) {
        rooms.relay(worker, message)
        return
      }
      if (!isOurs(message)) return
      const m = message as ToPrimary
      if (m.verb === 'ready') {
        ports ??= m.ports
        member.ready = true
        member.settle(true)
        if (!listening && gen === 1 && ready(1) === config.workers) void allReady()
      } else if (m.verb === 'listen-failed') {
        member.settle(false)
        if (gen === 1 && !listening && !startFailed) {
          startFailed = true
          const error = Object.assign(new Error(m.error.message), m.error)
          couldNotListen(logger, config, error)
          process.exitCode = 1
          for (const w of members.keys()) w.kill()
        } else {
          logger.error(
            { worker: worker.id, generation: gen, err: m.error },
            'worker could not listen',
          )
        }
      } else if (m.verb === 'closed') {
        results.push(m.result)
        if (member.retiring && !shuttingDown) retired.push(m.result)
        // node:cluster hands a connection to a worker with a message and waits for its answer;
        // a worker that exits with such a message unread leaves that client connected to
        // nobody. By now the primary has read the worker's "server closed" (sent before
        // `closed`), so it hands it nothing more, and what it handed before is ahead of this
        // answer in the channel: the worker answers those (refused: the primary gives them to
        // another worker), then reads this, then exits.
        tell(member, { verb: 'exit' })
      }
    })
    // A message to a worker that is exiting fails with EPIPE, emitted here: it is expected (the
    // worker's exit is handled below), and without a listener it would end the primary.
    worker.on('error', (error) => logger.debug({ worker: worker.id, err: error }, 'worker channel'))
    worker.on('exit', (code, signal) => {
      members.delete(worker)
      rooms.gone(worker)
      member.settle(false)
      if (shuttingDown || startFailed || member.retiring) return
      if (!member.ready) {
        // At startup the server fails (exit 1) rather than fork workers that die in a loop; in
        // a reload, the reload fails and says so.
        if (gen === 1 && !listening) {
          startFailed = true
          logger.fatal({ worker: worker.id, code, signal }, 'a worker exited before it listened')
          process.stderr.write(
            `demo-server: worker ${worker.id} exited (${signal ?? `code ${code}`}) before it listened\n`,
          )
          process.exitCode = 1
          for (const w of members.keys()) w.kill()
        }
        return
      }
      // A worker that died outside a shutdown is replaced, so the ports keep being served.
      logger.error({ worker: worker.id, code, signal }, 'worker died; starting another')
      fork(member.generation)
    })
    return member
  }
  const tell = (member: Member, message: ToWorker) => {
    if (member.worker.isConnected()) member.worker.send(message)
  }
  const ready = (gen: number) =>
    [...members.values()].filter((m) => m.generation === gen && m.ready).length
  for (let i = 0; i < config.workers; i++) fork(generation)

  const aggregator = new AggregatorRegistry()
  const http = createHttpServer({
    logger,
    metrics: async () => ({
      text: await aggregator.clusterMetrics(),
      contentType: aggregator.contentType,
    }),
    health: () => ({ ok: !shuttingDown, workers: members.size, generation: serving }),
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
      for (const w of members.keys()) w.kill()
      return
    }
    ports.http = (http.address() as AddressInfo).port
    listening = true
    logger.info({ host: config.host, ports, workers: config.workers }, 'listening')
  }

  // -- reload ------------------------------------------------------------------------------------
  let reloading = false
  let again = false
  const reload = async (signal: NodeJS.Signals) => {
    if (shuttingDown || startFailed || !listening) {
      logger.warn({ signal }, 'reload ignored: the server is not serving')
      return
    }
    if (reloading) {
      // One more reload after this one, however many signals came meanwhile.
      again = true
      logger.info({ signal }, 'reload requested during a reload: another follows it')
      return
    }
    reloading = true
    const old = [...members.values()].filter((m) => !m.retiring)
    const gen = ++generation
    logger.info({ signal, generation: gen, workers: config.workers }, 'reloading')
    const fresh = Array.from({ length: config.workers }, () => fork(gen))
    const started = await Promise.all(fresh.map((m) => m.started))
    if (shuttingDown) return
    if (!started.every(Boolean)) {
      for (const m of fresh) {
        m.retiring = true
        tell(m, { verb: 'shutdown', phase: 'force', reason: 'reload' })
      }
      logger.error(
        { generation: gen },
        'reload failed: the new workers did not all start; the old ones go on serving',
      )
    } else {
      serving = gen
      // Every new worker is listening, so the shared sockets keep being served while the old
      // workers stop accepting: the primary hands new connections to the new workers only.
      retired = []
      for (const m of old) {
        m.retiring = true
        tell(m, { verb: 'shutdown', phase: 'graceful', reason: 'reload' })
      }
      logger.info(
        { generation: gen, workers: fresh.map((m) => m.worker.id), draining: old.length },
        'reload: new workers listening, old ones draining',
      )
      const exited = old.map((m) =>
        m.worker.isDead() ? undefined : once(m.worker, 'exit').catch(() => {}),
      )
      void Promise.all(exited).then(() => {
        if (!shuttingDown) logger.info({ generation: gen, ...sum(retired) }, 'reload complete')
      })
    }
    reloading = false
    if (again) {
      again = false
      void reload(signal)
    }
  }
  onReloadSignal((signal) => void reload(signal))

  onShutdownSignals({
    onGraceful: (signal) => {
      shuttingDown = true
      logger.info(
        { signal, workers: members.size, gracePeriod: config.gracePeriod },
        'shutting down',
      )
      for (const m of members.values()) {
        // A worker still starting (a reload's) has no listener for the message yet: it has no
        // clients either, and the signal ends it.
        if (m.ready) tell(m, { verb: 'shutdown', phase: 'graceful' })
        else m.worker.kill()
      }
      void (async () => {
        while (members.size > 0) await once(cluster, 'exit')
        await new Promise<void>((resolve) => http.close(() => resolve()))
        logger.info(sum(results), 'server closed')
        process.exit(0)
      })()
      http.closeIdleConnections()
    },
    onForce: (signal) => {
      logger.warn({ signal }, 'second signal: closing the remaining connections now')
      for (const m of members.values()) tell(m, { verb: 'shutdown', phase: 'force' })
    },
  })
}

/** One worker: every TCP port, no HTTP; closes when the primary (or a signal) says so. */
export async function runWorker(config: ServerConfig, logger: Logger): Promise<void> {
  const id = cluster.worker?.id ?? 0
  const log = logger.child({ worker: id })
  const scaleOut =
    config.redis === undefined && config.rooms === 'shared'
      ? { roomsAdapter: new PrimaryRoomsAdapter(nodeIdOf(id)) }
      : await roomsAdapter(config, log)
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
  const graceful = (reason?: string) => {
    if (closing) return
    closing = true
    log.info({ connections: demo.connections, ...(reason && { reason }) }, 'worker shutting down')
    void demo.close(config.gracePeriod).then(async (result) => {
      // Exit once the primary answers (see its `exit`), or if it is gone.
      process.once('disconnect', () => process.exit(0))
      await send({ verb: 'closed', result })
    })
  }
  const force = () => {
    graceful()
    void demo.close(0)
  }
  process.on('message', (message: unknown) => {
    if (!isOurs(message)) return
    const m = message as ToWorker
    if (m.verb === 'exit') process.exit(0)
    else if (m.verb !== 'shutdown')
      return // the rooms' messages have their own listener
    else if (m.phase === 'force') force()
    else graceful(m.reason)
  })
  // A terminal's Ctrl-C reaches the workers too (same process group): the first starts the
  // graceful close (the primary's message then changes nothing), a second forces it.
  onShutdownSignals({ onGraceful: () => graceful(), onForce: force })
  // So does the SIGHUP of a closing terminal (which would end a process without a listener);
  // the primary's reload starts new workers, which read the certificate files afresh anyway.
  onReloadSignal(() => demo.reloadCertificates())
}
