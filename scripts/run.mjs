#!/usr/bin/env node
// The root scripts' single entry point. It exists so that `npm start` and `npm test` work on a
// machine with only Node and npm: corepack and a global pnpm are not assumed. It installs the
// workspace with a pinned pnpm (fetched by npx the first time, then the local copy), then hands
// over to turbo, which needs `pnpm` on PATH: node_modules/.bin is put there.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PNPM = 'pnpm@12.21.0'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = join(root, 'node_modules', '.bin')
const env = {
  ...process.env,
  PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
  // No "turbo collects anonymous telemetry" notice on a first run, and nothing sent.
  TURBO_TELEMETRY_DISABLED: '1',
}
// Output redirected to a file or a CI log gets no ANSI colour codes (unless asked for).
if (!process.stdout.isTTY && env.FORCE_COLOR === undefined) env.NO_COLOR = '1'
const isWin = process.platform === 'win32'

function run(cmd, args, { exitOnFailure = true } = {}) {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit', shell: isWin })
  if (r.error) throw r.error
  if (r.status !== 0 && exitOnFailure) process.exit(r.status ?? 1)
  return r.status ?? 1
}

/** Where each package's test task leaves vitest's JSON report (a turbo output, so cached too). */
const REPORT = join('.vitest', 'results.json')

/** Every workspace package directory (packages/*, apps/*, reliability), as pnpm-workspace.yaml lists them. */
function workspaceDirs() {
  const dirs = []
  for (const group of ['packages', 'apps']) {
    const at = join(root, group)
    if (!existsSync(at)) continue
    for (const name of readdirSync(at)) dirs.push(join(at, name))
  }
  dirs.push(join(root, 'reliability'))
  return dirs.filter((dir) => existsSync(join(dir, 'package.json')))
}

/**
 * Runs every package's `test` task through turbo (so `turbo run test --filter=…` is the same
 * task, cached the same way) and ends with one plain `tests: N passed, N failed` line summed
 * over the packages' vitest reports, the closing line CI tools read in any language (vitest's
 * own summary is decorated, and there is one per package here).
 */
function tests(args) {
  for (const dir of workspaceDirs()) rmSync(join(dir, REPORT), { force: true })
  const status = run(
    'turbo',
    [
      'run',
      'test',
      '--output-logs=errors-only',
      // One package at a time: each vitest already uses every core, and the tests that spawn
      // processes or load a server (demo-server, reliability) time out when they overlap.
      '--concurrency=1',
      // Every package's tests run even when one fails, so the counts below are complete.
      '--continue',
      '--',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${REPORT}`,
      ...args,
    ],
    { exitOnFailure: false },
  )
  let passed = 0
  let failed = 0
  let skipped = 0
  for (const dir of workspaceDirs()) {
    const file = join(dir, REPORT)
    if (!existsSync(file)) continue
    const r = JSON.parse(readFileSync(file, 'utf8'))
    passed += r.numPassedTests ?? 0
    failed += r.numFailedTests ?? 0
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)
    // A file that failed outside any test (a beforeAll that threw) counts as one failure, so
    // that a red run never closes on "0 failed".
    for (const result of r.testResults ?? []) {
      const failedTests = (result.assertionResults ?? []).filter((t) => t.status === 'failed')
      if (result.status === 'failed' && failedTests.length === 0) failed++
    }
  }
  if (redisSkipped !== undefined) console.log(`Redis tests skipped: ${redisSkipped}`)
  console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
  if (status !== 0) process.exit(status)
}

/** Whether `cmd --version` runs. */
function have(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore', shell: isWin }).status === 0
}

/**
 * How to install redis-server here without asking anyone anything: Debian's package as root,
 * or Homebrew's; `undefined` where neither applies (the user installs it, or the Redis tests
 * are skipped).
 */
function redisInstaller() {
  if (process.platform === 'linux' && process.getuid?.() === 0 && have('apt-get'))
    return [
      ['apt-get', ['update', '-qq']],
      ['apt-get', ['install', '-y', '-qq', 'redis-server']],
    ]
  if (have('brew')) return [['brew', ['install', 'redis']]]
  return undefined
}

/**
 * The Redis tests need a real redis-server (REDIS_SERVER, or on PATH). Where it is missing it
 * is installed where it can be (VERB_TCP_INSTALL_REDIS=0 turns that off); where it still is,
 * the Redis tests are skipped with the reason, except under CI, where they run and fail.
 * Returns the reason they will be skipped, or `undefined`.
 */
function ensureRedis() {
  const binary = process.env.REDIS_SERVER || 'redis-server'
  if (have(binary)) return undefined
  const installer = process.env.VERB_TCP_INSTALL_REDIS === '0' ? undefined : redisInstaller()
  if (installer !== undefined && !process.env.REDIS_SERVER) {
    console.log('redis-server was not found; installing it for the Redis tests:')
    env.DEBIAN_FRONTEND = 'noninteractive'
    for (const [cmd, args] of installer) {
      console.log(`$ ${cmd} ${args.join(' ')}`)
      if (run(cmd, args, { exitOnFailure: false }) !== 0) break
    }
    if (have(binary)) return undefined
  }
  const why =
    `${binary} was not found and could not be installed here ` +
    '(Debian/Ubuntu: `apt-get install -y redis-server`; macOS: `brew install redis`)'
  if (isCI(process.env)) {
    console.log(`${why}: under CI the Redis tests run anyway, and fail.`)
    return undefined
  }
  return why
}

/** Whether this is a CI run (`CI` set to anything but empty, `0` or `false`). */
function isCI(environment) {
  const ci = environment.CI?.trim().toLowerCase()
  return ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false'
}

function install() {
  const local = join(bin, isWin ? 'pnpm.cmd' : 'pnpm')
  const frozen = process.env.CI ? ['--frozen-lockfile'] : ['--prefer-offline']
  if (existsSync(local)) run(local, ['install', ...frozen])
  else run('npx', ['--yes', PNPM, 'install', ...frozen])
}

/** Signals from one Ctrl-C arriving twice (see serve) are this close together, in ms. */
const SAME_SIGNAL_MS = 100

/**
 * Runs the server and stays until it has exited, passing its exit status on. The server runs in
 * a process group of its own, so that it hears each stop request exactly once, from here: a
 * terminal's Ctrl-C sends SIGINT to the whole foreground group (npm and this script), and npm
 * forwards it to this script once more; two copies of one signal within SAME_SIGNAL_MS are one
 * request. The first request stops the server gracefully, a second one forces it (the server's
 * own rule), and the prompt only comes back once the server is gone.
 */
function serve(cli, args) {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: root,
    env: process.env,
    stdio: 'inherit',
    detached: !isWin,
  })
  let last = Number.NEGATIVE_INFINITY
  const forward = (signal) => {
    const now = performance.now()
    if (now - last < SAME_SIGNAL_MS) return
    last = now
    // A closed terminal (SIGHUP) is a request to stop like any other.
    if (child.exitCode === null && child.signalCode === null)
      child.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal)
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      process.exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)
      resolve()
    })
  })
}

/** Why the Redis tests are skipped in this run (see ensureRedis), printed with the counts. */
let redisSkipped

const [task = 'test', ...rest] = process.argv.slice(2)
install()
const turbo = (...args) => run('turbo', ['run', ...args, '--output-logs=errors-only'])

switch (task) {
  case 'start':
    turbo('build', '--filter=@verb-tcp/demo-server...')
    // The server's defaults are its own (127.0.0.1, ports 8080-8082 and 9090), so that its
    // environment variables are not overridden by flags from here.
    await serve(join(root, 'apps', 'demo-server', 'dist', 'cli.js'), rest)
    break
  case 'test':
    // lint:root covers what no package owns (scripts, root configs).
    turbo('build', 'typecheck', 'check:publish', 'lint', 'lint:root')
    // The packages as users get them: packed, installed with npm outside the workspace, run.
    run('node', ['scripts/check-packed.mjs'])
    redisSkipped = ensureRedis()
    // Part of the test task's cache key: results from a run that skipped the Redis tests are
    // not replayed once redis-server is there.
    env.VERB_TCP_REDIS_TESTS = redisSkipped === undefined ? 'run' : 'skipped'
    tests(rest)
    break
  case 'build':
    turbo('build', ...rest)
    break
  case 'bench':
    run('turbo', ['run', 'bench', '--concurrency=1', ...rest])
    break
  default:
    console.error(`unknown task ${task}: use start, test, build or bench`)
    process.exit(2)
}
