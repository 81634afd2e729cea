#!/usr/bin/env node
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { formatJunit, formatList, formatText } from './report.ts'
import { listCases, PROTOCOLS, run } from './run.ts'
import type { Protocol, RunOptions } from './types.ts'

const USAGE = `Usage: verb-tcp-conformance <protocol> HOST:PORT [options]
       verb-tcp-conformance <protocol> --list

Protocols: ${PROTOCOLS.join(', ')}

Options:
  --list                  list the cases (id, title, section, what a server must do) and exit
  --only <glob>           run only the cases whose id matches (repeatable; "2.*", "mux/4.?")
  --timeout <ms>          how long one expectation waits for the server (default 2000)
  --max-frame-bytes <n>   the server's frame limit in payload bytes (default 8388608)
  --mux-upgrade <what>    mux: auto (default), none, or the bytes in hex (0030000000000000)
  --concurrency <n>       cases run at once (default 8)
  --json                  print the report as JSON
  --junit <file>          also write a JUnit XML report to <file>
  --help                  this text

Exit status: 0 when every selected case passed, 1 when one failed, 2 on a usage error
or when the server cannot be reached.
`

function usage(message: string): never {
  process.stderr.write(`verb-tcp-conformance: ${message}\n\n${USAGE}`)
  process.exit(2)
}

function int(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^[1-9]\d*$/.test(value))
    usage(`--${name} must be a positive integer, not ${JSON.stringify(value)}`)
  return Number(value)
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse()
  } catch (error) {
    usage((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(USAGE)
    return
  }
  const [protocol, target, ...rest] = positionals
  if (protocol === undefined) usage('which protocol?')
  if (!PROTOCOLS.includes(protocol as Protocol))
    usage(`unknown protocol ${JSON.stringify(protocol)}`)
  if (rest.length > 0) usage(`unexpected ${JSON.stringify(rest[0])}`)
  const only = values.only
  if (values.list) {
    const cases = listCases(protocol as Protocol, only)
    process.stdout.write(values.json ? `${JSON.stringify(cases, null, 2)}\n` : formatList(cases))
    return
  }
  if (target === undefined) usage('which server? give HOST:PORT')
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target) ?? /^()()(\d+)$/.exec(target)
  if (!m) usage(`HOST:PORT expected, not ${JSON.stringify(target)}`)
  const host = m[1] || m[2] || '127.0.0.1'
  const port = Number(m[3])
  if (port < 1 || port > 65535) usage(`port ${port} is out of range`)
  let muxUpgrade: RunOptions['muxUpgrade'] = 'auto'
  const mu = values['mux-upgrade']
  if (mu === 'none' || mu === 'auto') muxUpgrade = mu
  else if (mu !== undefined) {
    if (!/^([0-9a-fA-F]{2})+$/.test(mu))
      usage(`--mux-upgrade must be auto, none or hex bytes, not ${JSON.stringify(mu)}`)
    muxUpgrade = Uint8Array.from(Buffer.from(mu, 'hex'))
  }
  const timeout = int('timeout', values.timeout)
  const maxFrameBytes = int('max-frame-bytes', values['max-frame-bytes'])
  const concurrency = int('concurrency', values.concurrency)
  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR
  const report = await run({
    protocol: protocol as Protocol,
    host,
    port,
    muxUpgrade,
    ...(only && only.length > 0 && { only }),
    ...(timeout !== undefined && { timeout }),
    ...(maxFrameBytes !== undefined && { maxFrameBytes }),
    ...(concurrency !== undefined && { concurrency }),
  })
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  else process.stdout.write(formatText(report, { colour }))
  if (values.junit !== undefined) writeFileSync(values.junit, formatJunit([report]))
  process.exitCode = report.ok ? 0 : 1
}

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      list: { type: 'boolean' },
      only: { type: 'string', multiple: true },
      timeout: { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'mux-upgrade': { type: 'string' },
      concurrency: { type: 'string' },
      json: { type: 'boolean' },
      junit: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

main().catch((error: unknown) => {
  process.stderr.write(`verb-tcp-conformance: ${(error as Error)?.message ?? String(error)}\n`)
  process.exitCode = 2
})
