// Implementations we did not write in TypeScript: independent json-frames and binary-frames
// servers in Python (stdlib only, test/fixtures/*.py), each written from the wire description,
// run the whole suite of their format. Skipped when python3 is not installed.
import { spawn, spawnSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { run } from '../src/index.ts'
import type { Protocol } from '../src/types.ts'

const hasPython = spawnSync('python3', ['--version']).status === 0

const SERVERS: [Protocol, string][] = [
  ['json-frames', 'json_frames_server.py'],
  ['binary-frames', 'binary_frames_server.py'],
]

for (const [protocol, file] of SERVERS) {
  it.skipIf(!hasPython)(
    `an independent Python ${protocol} server passes every ${protocol} case`,
    async () => {
      const script = fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url))
      const child = spawn('python3', [script], { stdio: ['pipe', 'pipe', 'inherit'] })
      try {
        const port = await new Promise<number>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`python3 exited with ${code}`)))
          createInterface({ input: child.stdout }).once('line', (line) => resolve(Number(line)))
        })
        const report = await run({ protocol, port, timeout: 5000 })
        expect(
          report.results.filter((r) => r.status !== 'pass').map((r) => `${r.id}: ${r.reason}`),
        ).toEqual([])
      } finally {
        child.stdin?.end()
        child.kill()
      }
    },
  )
}
