// The command as a user runs it (the built bin): exit status, plain text off a terminal, --json,
// --junit, --list, --only, and usage errors.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startJsonServer } from './servers/json-server.ts'
import type { Listening } from './servers/listen.ts'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1' },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      stdout += t
    })
    child.stderr.setEncoding('utf8').on('data', (t: string) => {
      stderr += t
    })
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

let good: Listening
let broken: Listening
const dir = mkdtempSync(join(tmpdir(), 'conformance-cli-'))
beforeAll(async () => {
  good = await startJsonServer()
  broken = await startJsonServer(['ping-without-id'])
})
afterAll(async () => {
  await good.close()
  await broken.close()
  rmSync(dir, { recursive: true, force: true })
})

it('exits 0 and prints a plain line per case when every case passes', async () => {
  const r = await cli(['json-frames', `127.0.0.1:${good.port}`, '--only', '1.*', '--only', '3.1'])
  expect(r.code).toBe(0)
  expect(r.stdout).toMatch(/^PASS {2}json-frames\/1\.1 {2}one ping frame$/m)
  expect(r.stdout).toContain(`json-frames 127.0.0.1:${good.port}: 8 passed, 0 failed, 0 skipped`)
  expect(r.stdout).not.toContain('\u001b[')
})

it('exits 1 with a one-line reason per failure, and writes JUnit and JSON reports', async () => {
  const junit = join(dir, 'report.xml')
  const r = await cli([
    'json-frames',
    `127.0.0.1:${broken.port}`,
    '--only',
    'json-frames/1.1',
    '--timeout',
    '300',
    '--junit',
    junit,
    '--json',
  ])
  expect(r.code).toBe(1)
  const report = JSON.parse(r.stdout)
  expect(report.failed).toBe(1)
  expect(report.results[0].reason).toMatch(
    /^sent ping \{"type":"ping","id":"1\.1"\}; expected \{"type":"pong","id":"1\.1"\} within 300 ms; got no pong/,
  )
  const xml = readFileSync(junit, 'utf8')
  expect(xml).toContain('<testsuite name="json-frames 127.0.0.1')
  expect(xml).toMatch(
    /<testcase classname="json-frames" name="json-frames\/1\.1 one ping frame" time="[\d.]+"><failure message="sent ping/,
  )
})

it('lists the cases without a server', async () => {
  const r = await cli(['mux', '--list', '--only', '7.*'])
  expect(r.code).toBe(0)
  expect(r.stdout.split('\n').filter((l) => l.startsWith('mux/'))).toEqual([
    'mux/7.1  ping with id 7',
    'mux/7.2  ping with id 4294967295 (the largest u32)',
    'mux/7.3  a pong nobody asked for',
  ])
})

it('exits 2 on a usage error, saying what is wrong', async () => {
  for (const args of [
    [],
    ['http2', '127.0.0.1:1'],
    ['json-frames'],
    ['json-frames', 'localhost'],
    ['json-frames', '127.0.0.1:1', '--timeout', 'soon'],
  ]) {
    const r = await cli(args)
    expect(r.code, args.join(' ')).toBe(2)
    expect(r.stderr).toMatch(/^verb-tcp-conformance: .+\n/)
  }
})

it('exits 2 when the server cannot be reached', async () => {
  const closed = await startJsonServer()
  const port = closed.port
  await closed.close()
  const r = await cli(['json-frames', `127.0.0.1:${port}`])
  expect(r.code).toBe(2)
  expect(r.stderr).toContain(`could not connect to 127.0.0.1:${port}`)
})
