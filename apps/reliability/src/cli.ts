#!/usr/bin/env node
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { markdownTable, textReport } from './report.ts'
import { runSuite, SCENARIOS } from './suite.ts'

const USAGE = `Usage: verb-tcp-reliability [--quick] [--only a,b] [--server cli.js] [--markdown FILE] [--json FILE]

Runs the reliability suite against the demo server started from its built binary
(apps/demo-server/dist/cli.js), prints one line of figures per scenario, and exits 1 if any
scenario failed. --quick is the CI size (a few minutes); without it, the full loads.

Scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}
VERB_TCP_RELIABILITY_PHASES=<regexp> runs only the matching phases of the hostile scenario.
`

/** File descriptors the full load needs in this process and in the server (each its own limit). */
const FD_TARGET = 65_536
const FD_NEEDED = 24_000

/**
 * The load scenario holds 10,000 sockets in this process and 10,000 in the server. When the
 * soft fd limit is lower, run again under a shell that raises it (as far as the hard limit
 * allows); servers spawned from here inherit it.
 */
function ensureFdLimit(): void {
  if (process.env.VERB_TCP_RELIABILITY_FDS === '1') return
  const soft = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim())
  if (!(soft < FD_NEEDED)) return
  const result = spawnSync(
    'sh',
    [
      '-c',
      `ulimit -n ${FD_TARGET} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, VERB_TCP_RELIABILITY_FDS: '1' } },
  )
  process.exit(result.status ?? 1)
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    server: { type: 'string' },
    markdown: { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}
const mode = values.quick ? 'quick' : 'full'
if (mode === 'full') ensureFdLimit()
const only = values.only?.split(',').map((s) => s.trim())
const started = Date.now()
const results = await runSuite({
  mode,
  ...(only ? { only } : {}),
  ...(values.server ? { bin: values.server } : {}),
  log: (message) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${message}\n`),
})
process.stdout.write(`${textReport(results)}\n`)
if (values.markdown) writeFileSync(values.markdown, `${markdownTable(results)}\n`)
if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`)
process.exitCode = results.some((r) => r.outcome === 'fail') ? 1 : 0
