import { createHash } from 'node:crypto'
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import type { Socket } from 'node:net'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { type SendProgress, sendFile } from '@verb-tcp/file-transfer'
import { dial } from './dial.ts'
import { explain } from './message-connection.ts'
import { fmt } from './stats.ts'

export interface TransferOptions {
  host: string
  port: number
  command: 'send' | 'resume'
  /** `send`: the file; `resume`: the transfer id. */
  arg: string
  /** `send`: the name to publish under, instead of the file's own. */
  as?: string
}

/** Where `send` remembers its transfers, so `resume ID` knows the file. */
function stateFile(): string {
  return process.env.VERB_TCP_CLIENT_STATE ?? join(homedir(), '.verb-tcp-demo-client.json')
}
type State = Record<string, { path: string; name: string }>
function readState(): State {
  try {
    return JSON.parse(readFileSync(stateFile(), 'utf8')) as State
  } catch {
    return {}
  }
}
function writeState(state: State): void {
  mkdirSync(dirname(stateFile()), { recursive: true })
  writeFileSync(stateFile(), `${JSON.stringify(state, null, 2)}\n`)
}

const MiB = 1024 * 1024
const size = (n: number) => `${fmt(n / MiB, 1)} MiB`

/** A progress bar on a terminal, one plain line per update otherwise. */
function progressReporter(): { update(p: SendProgress): void; done(): void } {
  const tty = process.stdout.isTTY === true
  return {
    update(p) {
      const eta = Number.isFinite(p.etaSeconds) ? `${fmt(p.etaSeconds, 0)} s` : '?'
      const rate = `${fmt(p.rate / MiB, 1)} MiB/s`
      if (!tty) {
        process.stdout.write(
          `progress ${p.bytes} of ${p.total} bytes (${fmt(p.percent, 0)}%), ${rate}, ETA ${eta}\n`,
        )
        return
      }
      const width = 30
      const filled = Math.round((p.percent / 100) * width)
      const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`
      process.stdout.write(
        `\r[${bar}] ${fmt(p.percent, 0).padStart(3)}% ${size(p.bytes)} of ${size(p.total)}, ${rate}, ETA ${eta}  `,
      )
    },
    done() {
      if (tty) process.stdout.write('\n')
    },
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/**
 * `send FILE` and `resume ID`: an upload over the binary port's fast path (file-transfer's
 * `sendFile`), with progress, and the server's SHA-256 checked against the file's own.
 */
export async function runTransfer({
  host,
  port,
  command,
  arg,
  as,
}: TransferOptions): Promise<void> {
  const state = readState()
  let path: string
  let name: string
  let transferId: string | undefined
  if (command === 'send') {
    path = resolve(arg)
    if (!existsSync(path) || !statSync(path).isFile()) {
      process.stderr.write(`demo-client: no file ${arg}\n`)
      process.exitCode = 2
      return
    }
    name = as ?? (path.split(/[\\/]/).at(-1) as string)
  } else {
    const known = state[arg]
    if (!known) {
      process.stderr.write(
        `demo-client: no interrupted upload ${arg} is known here (see ${stateFile()})\n`,
      )
      process.exitCode = 2
      return
    }
    ;({ path, name } = known)
    transferId = arg
  }

  let socket: Socket
  try {
    socket = await dial(host, port, false)
  } catch (error) {
    process.stderr.write(`demo-client: ${explain(error, host, port)}\n`)
    process.exitCode = 1
    return
  }
  const progress = progressReporter()
  const local = sha256Of(path)
  try {
    const done = await sendFile(socket, path, {
      name,
      ...(transferId !== undefined && { transferId }),
      onStart: (start) => {
        state[start.transferId] = { path, name }
        writeState(state)
        const from = start.offset > 0 ? ` at byte ${start.offset}` : ''
        process.stdout.write(
          `transfer ${start.transferId} ${command === 'resume' ? 'resumed' : 'started'}${from}\n`,
        )
      },
      onProgress: (p) => progress.update(p),
    })
    progress.done()
    const mine = await local
    delete state[done.transferId]
    writeState(state)
    if (done.sha256 !== mine) {
      process.stderr.write(
        `demo-client: DIGEST MISMATCH: the server has sha256 ${done.sha256}, the file ${mine}\n`,
      )
      process.exitCode = 1
    } else {
      process.stdout.write(
        `uploaded ${done.name}: ${done.size} bytes, sha256 ${done.sha256} (verified)\n`,
      )
    }
  } catch (error) {
    progress.done()
    const e = error as Error & { code?: string; transferId?: string }
    const id = e.transferId
    // The server never replaces a file: another name is the way to upload this one.
    const hint =
      e.code === 'ERR_FT_EXISTS' && command === 'send'
        ? '; to upload it under another name: demo-client send FILE --as NAME'
        : id
          ? `; resume with: demo-client resume ${id}`
          : ''
    process.stderr.write(`demo-client: upload failed: ${e.message}${hint}\n`)
    process.exitCode = 1
  } finally {
    socket.destroy()
  }
}
