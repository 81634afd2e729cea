#!/usr/bin/env node
import cluster from 'node:cluster'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import {
  type CliCommand,
  parseCliArgs,
  parseReloadArgs,
  type ServerConfig,
  UsageError,
  usage,
} from './args.ts'
import { runPrimary, runWorker } from './cluster.ts'
import { type BoundPorts, Demo } from './demo.ts'
import { couldNotListen } from './listen-error.ts'
import { createLogger } from './logger.ts'
import { roomsAdapter } from './redis.ts'
import { onReloadSignal, onShutdownSignals, RELOAD_SIGNAL } from './signals.ts'
import { version } from './version.ts'

/** `demo-server reload`: SIGHUP to the server named by `--pid-file` or `--pid`. */
function reload(argv: readonly string[]): void {
  let pid: number
  try {
    const target = parseReloadArgs(argv, process.env)
    if ('pid' in target) pid = target.pid
    else {
      const text = readFileSync(target.pidFile, 'utf8').trim()
      pid = /^\d+$/.test(text) ? Number(text) : Number.NaN
      if (!(pid > 0))
        throw new UsageError(`${target.pidFile} holds no pid: ${JSON.stringify(text)}`)
    }
    process.kill(pid, RELOAD_SIGNAL)
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    const why =
      err.code === 'ESRCH'
        ? 'no such process (has the server stopped?)'
        : err.code === 'ENOENT'
          ? `no pid file at ${err.path} (is the server running with --pid-file?)`
          : err.message
    process.stderr.write(`demo-server reload: ${why}\n`)
    process.exitCode = error instanceof UsageError ? 2 : 1
    return
  }
  process.stdout.write(`demo-server reload: sent ${RELOAD_SIGNAL} to ${pid}\n`)
}

/** `--pid-file`: the pid of the process to signal, removed again when it exits. */
function writePidFile(config: ServerConfig): void {
  const file = config.pidFile
  if (file === undefined) return
  writeFileSync(file, `${process.pid}\n`)
  process.on('exit', () => rmSync(file, { force: true }))
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'reload') return reload(argv.slice(1))
  let command: CliCommand
  try {
    command = parseCliArgs(argv, process.env)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`demo-server: ${error.message}\nRun with --help for usage.\n`)
    process.exitCode = 2
    return
  }
  if (command.help) {
    process.stdout.write(usage())
    return
  }
  if (command.version) {
    process.stdout.write(`demo-server ${version()} (verb-tcp demo, node ${process.version})\n`)
    return
  }
  const config = command as ServerConfig
  const logger = createLogger(config.logLevel)
  if (cluster.isWorker) return runWorker(config, logger)
  writePidFile(config)
  if (config.workers > 1) return runPrimary(config, logger)

  const scaleOut = await roomsAdapter(config, logger)
  const demo = new Demo({ config, logger, ...scaleOut })
  let ports: BoundPorts
  try {
    ports = await demo.listen()
  } catch (error) {
    couldNotListen(logger, config, error)
    process.exitCode = 1
    return
  }
  logger.info({ host: config.host, ports }, 'listening')

  // One process cannot replace itself without a gap: SIGHUP re-reads the certificate files only.
  onReloadSignal((signal) => {
    const certificates = demo.reloadCertificates() ?? 'no TLS'
    logger.info(
      { signal, certificates },
      'reload: certificate files read again (new code needs --workers, which reloads workers)',
    )
  })

  onShutdownSignals({
    onGraceful: (signal) => {
      logger.info(
        { signal, connections: demo.connections, gracePeriod: config.gracePeriod },
        'shutting down',
      )
      void demo.close(config.gracePeriod).then((result) => {
        logger.info(result, 'server closed')
        // The log is written synchronously, so nothing is cut off by exiting now; waiting for
        // the loop to empty could take as long as any timer or handle someone left behind.
        process.exit(0)
      })
    },
    onForce: (signal) => {
      logger.warn({ signal }, 'second signal: closing the remaining connections now')
      void demo.close(0)
    },
  })
}

await main(process.argv.slice(2))
