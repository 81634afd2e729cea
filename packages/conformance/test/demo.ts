import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** The built demo server (a dev dependency, so turbo builds it before these tests). */
export const DEMO_CLI = fileURLToPath(
  new URL('../node_modules/@verb-tcp/demo-server/dist/cli.js', import.meta.url),
)

export interface Demo {
  readonly ports: { echo: number; message: number; binary: number; http: number }
  readonly uploadDir: string
  readonly child: ChildProcess
  stop(): Promise<void>
}

/** Starts the demo on free loopback ports with a fresh upload directory. */
export async function startDemo(): Promise<Demo> {
  const dir = mkdtempSync(join(tmpdir(), 'conformance-demo-'))
  const uploadDir = join(dir, 'uploads')
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith('VERB_TCP_')) delete env[name]
  const child = spawn(
    process.execPath,
    [
      DEMO_CLI,
      '--port',
      '0',
      '--message-port',
      '0',
      '--binary-port',
      '0',
      '--http-port',
      '0',
      '--upload-dir',
      uploadDir,
      '--log-level',
      'info',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (t: string) => {
    stderr += t
  })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('close', resolve))
      child.kill('SIGKILL')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const ports = await new Promise<Demo['ports']>((resolve, reject) => {
    child.once('close', (code) =>
      reject(new Error(`the demo exited (code ${code}) before listening: ${stderr}`)),
    )
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { msg?: string; ports?: Demo['ports'] }
        if (parsed.msg === 'listening' && parsed.ports) resolve(parsed.ports)
      } catch {}
    })
  }).catch(async (error) => {
    await stop()
    throw error
  })
  return { ports, uploadDir, child, stop }
}
