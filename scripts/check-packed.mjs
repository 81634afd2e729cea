#!/usr/bin/env node
// Consumes the packages the way users will: packs every published package (pnpm pack, which
// turns `workspace:^` into real version ranges), installs the tarballs with plain npm into a
// scratch project outside the workspace (so nothing resolves through the workspace's
// node_modules), and runs a small server composed from them, once as an ES module and once as
// CommonJS. It also checks that every tarball carries its LICENSE, and runs the conformance
// command (`npx verb-tcp-conformance`) from its tarball against a server started from the
// packed packages. Needs built packages (`npm test` builds first); takes a few seconds.
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const isWin = process.platform === 'win32'
const pnpm = join(root, 'node_modules', '.bin', isWin ? 'pnpm.cmd' : 'pnpm')
const keep = process.argv.includes('--keep')

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({
    dir: join(root, 'packages', dir),
    file: join(root, 'packages', dir, 'package.json'),
  }))
  .filter(({ file }) => existsSync(file))
  .map(({ dir, file }) => ({ dir, pkg: JSON.parse(readFileSync(file, 'utf8')) }))
  .filter(({ pkg }) => !pkg.private)

const scratch = mkdtempSync(join(tmpdir(), 'verb-tcp-packed-'))
const tarballs = join(scratch, 'tarballs')
const app = join(scratch, 'app')
mkdirSync(tarballs)
mkdirSync(app)
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    shell: isWin,
    stdio: ['ignore', 'pipe', 'pipe'],
  })

try {
  for (const { dir } of packages) run(pnpm, ['pack', '--pack-destination', tarballs], dir)
  const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz'))
  for (const file of files) {
    const entries = run('tar', ['-tzf', join(tarballs, file)], tarballs).split('\n')
    if (!entries.includes('package/LICENSE')) throw new Error(`${file} has no LICENSE file`)
  }

  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify({ name: 'packed-check', private: true }, null, 2)}\n`,
  )
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      ...files.map((f) => join(tarballs, f)),
    ],
    app,
  )

  writeFileSync(join(app, 'server.mjs'), esm())
  writeFileSync(join(app, 'server.cjs'), cjs())
  for (const script of ['server.mjs', 'server.cjs']) {
    const out = execFileSync(process.execPath, [script], {
      cwd: app,
      encoding: 'utf8',
      timeout: 30_000,
    })
    if (out.trim() !== 'ok') throw new Error(`${script} printed ${JSON.stringify(out)}`)
  }
  await conformanceCommand()
  console.log(
    `packed packages: ${packages.length} tarballs with LICENSE, installed with npm outside the workspace; a composed server ran as ESM and as CommonJS; npx verb-tcp-conformance passed against it`,
  )
} catch (error) {
  console.error(`packed-package check failed (scratch project kept in ${scratch}):`)
  console.error(error.stderr || error.stdout || error.message)
  process.exit(1)
}
if (!keep) rmSync(scratch, { recursive: true, force: true })

/**
 * `npx verb-tcp-conformance json-frames HOST:PORT` from the installed tarball (its bin), against
 * a json-frames server built from the packed packages: the framing cases must pass, and
 * `--list` must list every protocol's cases.
 */
async function conformanceCommand() {
  writeFileSync(join(app, 'ping-server.mjs'), pingServer())
  const server = spawn(process.execPath, ['ping-server.mjs'], {
    cwd: app,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  try {
    const [line] = await once(createInterface({ input: server.stdout }), 'line')
    const npx = isWin ? 'npx.cmd' : 'npx'
    const out = run(
      npx,
      ['--no-install', 'verb-tcp-conformance', 'json-frames', `127.0.0.1:${line}`, '--only', '1.*'],
      app,
    )
    if (!/: 7 passed, 0 failed/.test(out)) throw new Error(`verb-tcp-conformance printed ${out}`)
    for (const protocol of ['json-frames', 'binary-frames', 'mux', 'file-transfer']) {
      const list = run(npx, ['--no-install', 'verb-tcp-conformance', protocol, '--list'], app)
      if (!list.startsWith(`${protocol}/1.1 `)) throw new Error(`--list printed ${list}`)
    }
  } finally {
    server.kill()
  }
}

/** A json-frames server from the packed packages that answers pings; prints its port. */
function pingServer() {
  return `import { createServer } from '@verb-tcp/core'
import { MessageHandler } from '@verb-tcp/json-frames'
const app = createServer().onConnection((socket) => {
  const messages = new MessageHandler(socket)
  messages.on('message', (m) => {
    if (m && m.type === 'ping') messages.sendMessage({ ...m, type: 'pong' })
  })
})
const { port } = await app.listen(0, '127.0.0.1')
console.log(port)
process.stdin.resume()
process.stdin.on('end', () => app.close())
`
}

/** The composed server: core + pool admission + json-frames messages + binary-frames encoding. */
function body() {
  return `
  const app = createServer().withOptions({
    tcp: {
      onConnection: (socket) => {
        const messages = new MessageHandler(socket)
        messages.on('message', (message) => {
          messages.sendMessage({ echo: message, frameBytes: encodeFrame(DATA, Buffer.from('x')).length })
        })
      },
    },
  })
  const pool = new ConnectionPool({ maxConnections: 10 })
  attach(app, { pool, fullNotice: encodeMessage({ type: 'server_full' }) })
  const { port } = await app.listen()
  const client = new MessageHandler(connect(port, '127.0.0.1'))
  client.sendMessage({ hello: 'packed' })
  const reply = await new Promise((resolve) => client.once('message', resolve))
  assert.deepStrictEqual(reply, { echo: { hello: 'packed' }, frameBytes: 9 })
  for (const loaded of [codec.attachDecoder, testing.createTCPServer, validate.positiveInt, createSession, TCPRoomManager, TCPFileTransferServer, conformance, listCases]) {
    assert.strictEqual(typeof loaded, 'function')
  }
  assert.strictEqual(listCases('json-frames').length > 0, true)
  const checked = await conformance({ protocol: 'json-frames', port, only: '1.1', timeout: 200 })
  assert.strictEqual(checked.results.length, 1)
  client.socket.end()
  await app.close()
  pool.close()
  console.log('ok')
`
}

function esm() {
  return `import assert from 'node:assert'
import { connect } from 'node:net'
import { createServer } from '@verb-tcp/core'
import * as codec from '@verb-tcp/core/codec'
import * as testing from '@verb-tcp/core/testing'
import * as validate from '@verb-tcp/core/validate'
import { DATA, encodeFrame } from '@verb-tcp/binary-frames'
import { TCPFileTransferServer } from '@verb-tcp/file-transfer'
import { encodeMessage, MessageHandler } from '@verb-tcp/json-frames'
import { createSession } from '@verb-tcp/mux'
import { attach, ConnectionPool } from '@verb-tcp/pool'
import { TCPRoomManager } from '@verb-tcp/rooms'
import { listCases, run as conformance } from '@verb-tcp/conformance'
${body()}`
}

function cjs() {
  return `'use strict'
const assert = require('node:assert')
const { connect } = require('node:net')
const { createServer } = require('@verb-tcp/core')
const codec = require('@verb-tcp/core/codec')
const testing = require('@verb-tcp/core/testing')
const validate = require('@verb-tcp/core/validate')
const { DATA, encodeFrame } = require('@verb-tcp/binary-frames')
const { TCPFileTransferServer } = require('@verb-tcp/file-transfer')
const { encodeMessage, MessageHandler } = require('@verb-tcp/json-frames')
const { createSession } = require('@verb-tcp/mux')
const { attach, ConnectionPool } = require('@verb-tcp/pool')
const { TCPRoomManager } = require('@verb-tcp/rooms')
const { listCases, run: conformance } = require('@verb-tcp/conformance')
async function main() {${body()}}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
`
}
