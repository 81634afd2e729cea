#!/usr/bin/env node
import { DEFAULT_GRACE_PERIOD } from '@verb-tcp/core'
import { pino } from 'pino'
import { type CliCommand, parseCliArgs, USAGE, UsageError } from './args.ts'
import { createDemoServer, sayGoodbye } from './server.ts'

/** Ms after the server has closed before the process is made to exit if something holds it. */
const EXIT_DEADLINE = 2000

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
    process.stdout.write(USAGE)
    return
  }

  const { host, port } = command
  const logger = pino({ level: command.logLevel })
  const app = createDemoServer({ logger })
  try {
    const address = await app.listen(port, host)
    logger.info({ address: address.address, port: address.port }, 'listening')
  } catch (error) {
    logger.fatal({ err: error, host, port }, 'could not listen')
    process.exitCode = 1
    return
  }

  app.handleSignals({
    gracePeriod: DEFAULT_GRACE_PERIOD,
    notify: sayGoodbye,
    signals: ['SIGTERM', 'SIGINT'],
    onSignal: (signal, phase) => {
      if (phase === 'force') {
        logger.warn({ signal }, 'second signal: closing the remaining connections now')
      } else {
        const connections = app.connections.size
        logger.info({ signal, connections, gracePeriod: DEFAULT_GRACE_PERIOD }, 'shutting down')
      }
    },
    // The process is left to end by itself so nothing still queued (a log line) is cut off;
    // the unref'd timer only guards against something that would keep it alive.
    exit: (code, result) => {
      logger.info(result, 'server closed')
      process.exitCode = code
      setTimeout(() => process.exit(code), EXIT_DEADLINE).unref()
    },
  })
}

await main(process.argv.slice(2))
