#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { runBench } from './client/bench.ts'
import { runBenchWorker } from './client/bench-worker.ts'
import { runChat } from './client/chat.ts'
import { runPing } from './client/ping.ts'
import { version } from './version.ts'

const USAGE = `Usage: demo-client <command> [options]

A client for the verb-tcp demo server (start it with \`npm start\`).

Commands:
  chat               an interactive session on the message port (type /help in it)
  ping               round-trip times over the message port and the binary port
  send FILE          upload FILE over the binary port's fast path, with progress (a file
                     of that name on the server is kept: --as NAME uploads under another)
  resume ID          resume an interrupted upload
  bench              load generator: N connections, ping-pong or room fan-out, for a fixed
                     time; prints messages/s and latency percentiles (p50, p99, p999)

Options:
  --host <address>         server address (default 127.0.0.1)
  --message-port <port>    the message port (default 8081)
  --binary-port <port>     the binary port (default 8082)
  --count <n>              ping: round trips per port (default 5)
  --as <name>              send: the name to upload under (default: the file's own)
  --mode <mode>            bench: pingpong or fanout (default pingpong)
  --connections <n>        bench: connections (default 100)
  --duration <s>           bench: seconds measured (default 10), after --warmup seconds (default 1)
  --rooms <n>              bench fanout: rooms, each with one sender (default 1)
  --window <n>             bench fanout: room messages in flight per sender (default 10)
  --processes <n>          bench: generator processes sharing the connections (default 2 for
                           pingpong, 1 for fanout, whose senders must hear every delivery)
  --target <kind>          bench: verb (this server, default), docs, socketio
  --json                   bench: print the result as one JSON line
  -h, --help               print this help
  -v, --version            print the version
`

const OPTIONS = {
  host: { type: 'string', default: '127.0.0.1' },
  'message-port': { type: 'string', default: '8081' },
  'binary-port': { type: 'string', default: '8082' },
  count: { type: 'string', default: '5' },
  mode: { type: 'string', default: 'pingpong' },
  connections: { type: 'string', default: '100' },
  duration: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '1' },
  rooms: { type: 'string', default: '1' },
  window: { type: 'string', default: '10' },
  processes: { type: 'string' },
  target: { type: 'string', default: 'verb' },
  json: { type: 'boolean', default: false },
  as: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'v', default: false },
} as const

/** parseArgs' message for an unknown option is written for programs; this one is for people. */
function unknownOption(error: Error): string | undefined {
  if ((error as NodeJS.ErrnoException).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return undefined
  const option = /'(-[^']*)'/.exec(error.message)?.[1]
  if (option === undefined) return undefined
  const bare = option.replace(/^-+/, '')
  const near = Object.keys(OPTIONS).filter(
    (o) => o.endsWith(`-${bare}`) || o.startsWith(`${bare}-`),
  )
  return `unknown option ${option}${near.length > 0 ? ` (did you mean ${near.map((o) => `--${o}`).join(' or ')}?)` : ''}`
}

const { values, positionals } = (() => {
  try {
    return parseArgs({ allowPositionals: true, options: OPTIONS })
  } catch (error) {
    const message = unknownOption(error as Error) ?? (error as Error).message
    process.stderr.write(`demo-client: ${message}\nRun with --help for usage.\n`)
    process.exit(2)
  }
})()

function number(name: keyof typeof values, min: number): number {
  const raw = values[name] as string
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(
      `demo-client: --${name} must be a number of at least ${min}, got ${JSON.stringify(raw)}\n`,
    )
    process.exit(2)
  }
  return n
}

const [command, ...rest] = positionals
const host = values.host as string
const messagePort = number('message-port', 0)
const binaryPort = number('binary-port', 0)

if (values.version) {
  process.stdout.write(`demo-client ${version()} (verb-tcp demo, node ${process.version})\n`)
  process.exit(0)
}
if (values.help || command === undefined) {
  process.stdout.write(USAGE)
  process.exit(command === undefined && !values.help ? 2 : 0)
}

switch (command) {
  case 'chat':
    await runChat({ host, port: messagePort })
    break
  case 'ping':
    await runPing({ host, messagePort, binaryPort, count: number('count', 1) })
    break
  case 'bench': {
    const mode = values.mode as string
    const target = values.target as string
    if (mode !== 'pingpong' && mode !== 'fanout') {
      process.stderr.write(`demo-client: --mode must be pingpong or fanout\n`)
      process.exit(2)
    }
    if (target !== 'verb' && target !== 'docs' && target !== 'socketio') {
      process.stderr.write(`demo-client: --target must be verb, docs or socketio\n`)
      process.exit(2)
    }
    await runBench({
      host,
      port: messagePort,
      mode,
      target,
      connections: number('connections', 1),
      duration: number('duration', 0.1),
      warmup: number('warmup', 0),
      rooms: number('rooms', 1),
      window: number('window', 1),
      // Fan-out's window is refilled from every receiver's progress, which another process
      // would relay through this one (two hops): measured slower than one process.
      processes:
        values.processes === undefined ? (mode === 'fanout' ? 1 : 2) : number('processes', 1),
      json: values.json as boolean,
    })
    break
  }
  case 'bench-worker':
    // One of `bench`'s generator processes, started by it (not for people).
    runBenchWorker()
    break
  case 'send':
  case 'resume': {
    const { runTransfer } = await import('./client/transfer.ts')
    if (rest[0] === undefined) {
      process.stderr.write(
        `demo-client: ${command} needs ${command === 'send' ? 'a FILE' : 'an ID'}\n`,
      )
      process.exit(2)
    }
    if (values.as !== undefined && (command !== 'send' || values.as === '')) {
      process.stderr.write(`demo-client: --as takes a name, and only with send\n`)
      process.exit(2)
    }
    await runTransfer({
      host,
      port: binaryPort,
      command,
      arg: rest[0],
      ...(values.as !== undefined && { as: values.as }),
    })
    break
  }
  default:
    process.stderr.write(
      `demo-client: unknown command ${JSON.stringify(command)}\nRun with --help for usage.\n`,
    )
    process.exit(2)
}
