import { parseArgs } from 'node:util'

export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 8080
export const DEFAULT_LOG_LEVEL = 'info'
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export const USAGE = `Usage: demo-server [--host <address>] [--port <port>]

The seed's Basic TCP Server: greets each client, echoes every chunk it sends
prefixed with "Echo: ", and logs JSON lines (pino) to stdout. SIGTERM or SIGINT
closes it gracefully; a second signal closes the remaining connections at once.

Options:
  --host <address>  address to listen on (default ${DEFAULT_HOST}; 0.0.0.0 or :: for all)
  --port <port>     port from 0 to 65535, 0 for a free one (default ${DEFAULT_PORT})
  -h, --help        print this help and exit

Environment:
  LOG_LEVEL         ${LOG_LEVELS.join(', ')} (default ${DEFAULT_LOG_LEVEL})
`

/** A bad command line: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

export type CliCommand =
  | { help: true }
  | { help: false; host: string; port: number; logLevel: LogLevel }

/** Parses the CLI's arguments (without `node` and the script) and environment; throws `UsageError`. */
export function parseCliArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): CliCommand {
  let values: { host?: string | undefined; port?: string | undefined; help?: boolean | undefined }
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }))
  } catch (error) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes and readable messages.
    throw new UsageError((error as Error).message, { cause: error })
  }
  if (values.help) return { help: true }

  const host = values.host ?? DEFAULT_HOST
  if (host.trim() === '') throw new UsageError('--host must not be empty')

  let port = DEFAULT_PORT
  if (values.port !== undefined) {
    port = /^\d{1,5}$/.test(values.port) ? Number(values.port) : Number.NaN
    if (!(port <= 65535)) {
      throw new UsageError(
        `--port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}`,
      )
    }
  }

  const level =
    env.LOG_LEVEL === undefined || env.LOG_LEVEL === '' ? DEFAULT_LOG_LEVEL : env.LOG_LEVEL
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`,
    )
  }
  return { help: false, host, port, logLevel: level as LogLevel }
}
