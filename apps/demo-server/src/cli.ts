#!/usr/bin/env node
import cluster from 'node:cluster'
import { type CliCommand, parseCliArgs, type ServerConfig, UsageError, usage } from './args.ts'
import { runPrimary, runWorker } from './cluster.ts'
import { type BoundPorts, Demo } from './demo.ts'
import { couldNotListen } from './listen-error.ts'
import { createLogger } from './logger.ts'
import { roomsAdapter } from './redis.ts'
import { onShutdownSignals } from './signals.ts'
import { version } from './version.ts'

async function main(argv: readonly string[]): Promise<void> {
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
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, logger)
  if (cluster.isWorker) return runWorker(config, logger)

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
