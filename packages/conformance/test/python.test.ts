// An implementation we did not write in TypeScript: an independent json-frames server in
// Python (stdlib only, test/fixtures/json_frames_server.py) runs the whole json-frames suite.
// Skipped when python3 is not installed.
import { spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { run } from '../src/index.ts'

const SERVER = fileURLToPath(new URL('./fixtures/json_frames_server.py', import.meta.url))
const hasPython = spawnSync('python3', ['--version']).status === 0

it.skipIf(!hasPython)(
  'an independent Python json-frames server passes every json-frames case',
  async () => {
    const child = spawn('python3', [SERVER], { stdio: ['pipe', 'pipe', 'inherit'] })
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`python3 exited with ${code}`)))
        createInterface({ input: child.stdout }).once('line', (line) => resolve(Number(line)))
      })
      const report = await run({ protocol: 'json-frames', port })
      expect(
        report.results.filter((r) => r.status !== 'pass').map((r) => `${r.id}: ${r.reason}`),
      ).toEqual([])
    } finally {
      child.stdin?.end()
      child.kill()
    }
  },
)
