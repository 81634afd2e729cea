import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
const SLOW_READER = ['close', 'skip'] as const
const ROOMS = ['shared', 'per-worker'] as const

/** A bad command line or environment: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Everything the server is configured with; every field is a flag and an environment variable. */
export interface ServerConfig {
  host: string
  port: number
  messagePort: number
  binaryPort: number
  httpPort: number
  uploadDir: string
  redis: string | undefined
  workers: number
  /**
   * `shared`: rooms, broadcasts and private messages reach every client (with `--workers`,
   * through Redis or else through the primary); `per-worker`: only the sender's worker's.
   */
  rooms: (typeof ROOMS)[number]
  /** Where `demo-server reload` finds the primary's pid. */
  pidFile: string | undefined
  gracePeriod: number
  logLevel: LogLevel
  maxConnections: number
  ipRate: number
  ipWindow: number
  maxPerIp: number
  idleTimeout: number
  maxBufferedBytes: number
  slowReader: (typeof SLOW_READER)[number]
  maxFrameBytes: number
  /** PEM certificate and key: the echo, message and binary ports speak TLS. */
  tlsCert: string | undefined
  tlsKey: string | undefined
}

type Parse = (raw: string, flag: string) => unknown

interface Option {
  key: keyof ServerConfig
  flag: string
  arg: string
  default: string | undefined
  help: string
  parse: Parse
}

const int =
  (min: number, max: number): Parse =>
  (raw, flag) => {
    const n = /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN
    if (!(n >= min && n <= max)) {
      throw new UsageError(
        `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
      )
    }
    return n
  }
const port = int(0, 65535)
const MAX_WORKERS = 256
const workers: Parse = (raw, flag) =>
  raw === 'auto' ? Math.min(availableParallelism(), MAX_WORKERS) : int(1, MAX_WORKERS)(raw, flag)
const text: Parse = (raw, flag) => {
  if (raw.trim() === '') throw new UsageError(`${flag} must not be empty`)
  return raw
}
const oneOf =
  (values: readonly string[]): Parse =>
  (raw, flag) => {
    if (!values.includes(raw)) {
      throw new UsageError(
        `${flag} must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`,
      )
    }
    return raw
  }
const MAX_MS = 2_147_483_647 // the largest delay a Node timer takes

/** The options, in the order `--help` lists them. */
export const OPTIONS: readonly Option[] = [
  {
    key: 'host',
    flag: 'host',
    arg: 'address',
    default: '127.0.0.1',
    help: 'address every port listens on (0.0.0.0 or :: for all interfaces)',
    parse: text,
  },
  {
    key: 'port',
    flag: 'port',
    arg: 'port',
    default: '8080',
    help: 'echo port: greeting and byte-exact echo (0 = a free port)',
    parse: port,
  },
  {
    key: 'messagePort',
    flag: 'message-port',
    arg: 'port',
    default: '8081',
    help: 'message port: json-frames chat, rooms, uploads',
    parse: port,
  },
  {
    key: 'binaryPort',
    flag: 'binary-port',
    arg: 'port',
    default: '8082',
    help: 'binary port: binary-frames heartbeats, mux, fast file path',
    parse: port,
  },
  {
    key: 'httpPort',
    flag: 'http-port',
    arg: 'port',
    default: '9090',
    help: 'HTTP port: /metrics (Prometheus) and /healthz',
    parse: port,
  },
  {
    key: 'uploadDir',
    flag: 'upload-dir',
    arg: 'dir',
    default: 'uploads',
    help: 'where uploaded files go (shared by every worker)',
    parse: text,
  },
  {
    key: 'redis',
    flag: 'redis',
    arg: 'url',
    default: undefined,
    help: 'redis://host:port: rooms span every server on this Redis',
    parse: text,
  },
  {
    key: 'workers',
    flag: 'workers',
    arg: 'n',
    default: '1',
    help: 'processes sharing the ports (node:cluster), or auto (one per core); 1 = no cluster',
    parse: workers,
  },
  {
    key: 'rooms',
    flag: 'rooms',
    arg: 'scope',
    default: 'shared',
    help: 'shared (with --workers: through --redis, else through the primary) or per-worker',
    parse: oneOf(ROOMS),
  },
  {
    key: 'pidFile',
    flag: 'pid-file',
    arg: 'file',
    default: undefined,
    help: 'write the pid here (the one `demo-server reload` signals)',
    parse: text,
  },
  {
    key: 'gracePeriod',
    flag: 'grace-period',
    arg: 'ms',
    default: '30000',
    help: 'on SIGTERM/SIGINT (and for old workers on reload), how long clients get to leave',
    parse: int(0, MAX_MS),
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    arg: 'level',
    default: 'info',
    help: LOG_LEVELS.join(', '),
    parse: oneOf(LOG_LEVELS),
  },
  {
    key: 'maxConnections',
    flag: 'max-connections',
    arg: 'n',
    default: '1000',
    help: 'connections per port; more are refused at accept',
    parse: int(1, 1_000_000_000),
  },
  {
    key: 'ipRate',
    flag: 'ip-rate',
    arg: 'n',
    default: '0',
    help: 'new connections per client IP per --ip-window (0 = no limit)',
    parse: int(0, 1_000_000_000),
  },
  {
    key: 'ipWindow',
    flag: 'ip-window',
    arg: 'ms',
    default: '60000',
    help: 'the sliding window of --ip-rate',
    parse: int(1, MAX_MS),
  },
  {
    key: 'maxPerIp',
    flag: 'max-per-ip',
    arg: 'n',
    default: '0',
    help: 'connections open at once per client IP (0 = no limit)',
    parse: int(0, 1_000_000_000),
  },
  {
    key: 'idleTimeout',
    flag: 'idle-timeout',
    arg: 'ms',
    default: '300000',
    help: 'close connections idle this long in both directions (0 = never)',
    parse: int(0, MAX_MS),
  },
  {
    key: 'maxBufferedBytes',
    flag: 'max-buffered-bytes',
    arg: 'bytes',
    default: '1048576',
    help: 'slow-reader cap: bytes queued for one client by broadcasts',
    parse: int(1, 2 ** 32),
  },
  {
    key: 'slowReader',
    flag: 'slow-reader',
    arg: 'policy',
    default: 'close',
    help: 'a client over the cap: close it, or skip it for that message',
    parse: oneOf(SLOW_READER),
  },
  {
    key: 'maxFrameBytes',
    flag: 'max-frame-bytes',
    arg: 'bytes',
    default: '8388608',
    help: 'largest message or frame accepted',
    parse: int(0, 2 ** 32 - 1),
  },
  {
    key: 'tlsCert',
    flag: 'tls-cert',
    arg: 'file',
    default: undefined,
    help: 'PEM certificate (with --tls-key): the TCP ports speak TLS; re-read on change and SIGHUP',
    parse: text,
  },
  {
    key: 'tlsKey',
    flag: 'tls-key',
    arg: 'file',
    default: undefined,
    help: 'PEM private key of --tls-cert',
    parse: text,
  },
]

/** `--message-port` reads `VERB_TCP_MESSAGE_PORT`. */
export const envName = (flag: string): string =>
  `VERB_TCP_${flag.toUpperCase().replaceAll('-', '_')}`

export type CliCommand =
  | { help: true; version?: false }
  | { help: false; version: true }
  | ({ help: false; version?: false } & ServerConfig)

/** Parses the CLI's arguments (without `node` and the script) and environment; throws `UsageError`. */
export function parseCliArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): CliCommand {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: 'string' as const }])),
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
      strict: true,
      allowPositionals: false,
    }))
  } catch (error) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes and readable messages.
    throw new UsageError((error as Error).message, { cause: error })
  }
  if (values.help) return { help: true }
  if (values.version) return { help: false, version: true }

  const config: Record<string, unknown> = { help: false }
  for (const option of OPTIONS) {
    // A flag beats the environment, which beats the default; an empty variable counts as unset.
    const fromFlag = values[option.flag] as string | undefined
    const name = envName(option.flag)
    const fromEnv = env[name] === '' ? undefined : env[name]
    const raw = fromFlag ?? fromEnv ?? option.default
    const source = fromFlag !== undefined ? `--${option.flag}` : fromEnv !== undefined ? name : ''
    config[option.key] =
      raw === undefined ? undefined : option.parse(raw, source || `--${option.flag}`)
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together: give both, or neither')
  }
  return config as CliCommand
}

/**
 * `demo-server reload [--pid-file <file> | --pid <pid>]`: which process to send SIGHUP to.
 * `--pid-file` also reads `VERB_TCP_PID_FILE`, as the server's flag does.
 */
export function parseReloadArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): { pid: number } | { pidFile: string } {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      options: { 'pid-file': { type: 'string' }, pid: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }))
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error })
  }
  if (typeof values.pid === 'string') {
    return { pid: int(1, 2 ** 31 - 1)(values.pid, '--pid') as number }
  }
  const fromEnv = env[envName('pid-file')] === '' ? undefined : env[envName('pid-file')]
  const pidFile = (values['pid-file'] as string | undefined) ?? fromEnv
  if (pidFile === undefined) {
    throw new UsageError(
      "reload needs the server: --pid-file <file> (the server's --pid-file) or --pid <pid>",
    )
  }
  return { pidFile }
}

/** The `--help` text, generated from the option table so it cannot drift from the parser. */
export function usage(): string {
  const rows = OPTIONS.map((o) => {
    const left = `  --${o.flag} <${o.arg}>`
    const def = o.default === undefined ? '' : ` (default ${o.default})`
    return `${left.padEnd(31)}${o.help}${def}\n${''.padEnd(31)}env ${envName(o.flag)}`
  })
  return `Usage: demo-server [options]
       demo-server reload --pid-file <file> | --pid <pid>

The verb-tcp demo: one server assembled from every verb-tcp package. It listens on an
echo port, a json-frames message port, a binary-frames port and an HTTP port, logs JSON
lines (pino) to stdout (pretty on a terminal), and stops gracefully on SIGTERM or SIGINT;
a second signal closes the remaining connections at once. SIGHUP (or \`demo-server reload\`)
reloads: with --workers, a new generation of workers takes over without refusing a
connection; the TLS certificate files are read again.

Options (a flag beats its environment variable, which beats the default):
${rows.join('\n')}
  -h, --help                   print this help and exit
  -v, --version                print the version and exit
`
}
