import type { Logger } from 'pino'
import type { ServerConfig } from './args.ts'

const FLAG_OF_PORT: [keyof ServerConfig, string, string][] = [
  ['port', '--port', 'echo'],
  ['messagePort', '--message-port', 'message'],
  ['binaryPort', '--binary-port', 'binary'],
  ['httpPort', '--http-port', 'HTTP'],
]

/**
 * A port could not be bound: the fatal log line for machines, and one sentence on stderr for the
 * person at the terminal, saying which port, why, and what to do.
 */
export function couldNotListen(logger: Logger, config: ServerConfig, error: unknown): void {
  const err = error as NodeJS.ErrnoException & { port?: number; address?: string }
  logger.fatal({ err, host: config.host }, 'could not listen')
  if (err.code?.startsWith('ERR_TLS_')) {
    process.stderr.write(
      `demo-server: could not start TLS (--tls-cert, --tls-key): ${err.message}\n`,
    )
    return
  }
  const match = FLAG_OF_PORT.find(([key]) => config[key] === err.port)
  const which = match ? `the ${match[2]} port ${config.host}:${err.port}` : `${config.host}`
  const hint =
    err.code === 'EADDRINUSE'
      ? ` is already in use (is another server running?); pick another with ${match?.[1] ?? 'the port flags'}, or 0 for a free port.`
      : err.code === 'EACCES'
        ? ` needs privileges (ports below 1024 do); use a port from 1024 up.`
        : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND'
          ? ` is not an address of this machine; check --host.`
          : `: ${err.message}.`
  process.stderr.write(`demo-server: could not listen: ${which}${hint}\n`)
}
