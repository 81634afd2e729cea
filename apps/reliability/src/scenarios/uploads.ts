import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MessageClient } from '../clients.ts'
import { expect, type Report, type ScenarioContext } from '../scenario.ts'
import { DocsUpload } from '../upload.ts'
import { MiB, mib, pool, waitFor } from '../util.ts'
import { GRACE_PERIOD, SHUTDOWN_FLAGS } from './shutdown.ts'

/**
 * SIGTERM while uploads are under way on the message port; then a new server on the same
 * upload directory: every upload resumes from an offset no lower than what the first server
 * acknowledged, completes, and its digest and bytes on disk match what was sent.
 */
export async function sigtermDuringUploads(
  context: ScenarioContext,
  report: Report,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'verb-tcp-reliability-uploads-'))
  try {
    const flags = { ...SHUTDOWN_FLAGS, 'upload-dir': dir }
    const first = await context.startServer({ flags })
    if (first.ports.message === undefined) {
      report.figures['not run'] = 'no message port'
      return
    }
    const count = context.mode === 'full' ? 16 : 4
    const size = context.mode === 'full' ? 16 * MiB : 2 * MiB
    const uploads = Array.from(
      { length: count },
      (_, i) => new DocsUpload(`reliability-${i}`, `upload-${i}.bin`, randomBytes(size)),
    )
    const noticed: boolean[] = uploads.map(() => false)
    // An upload that completed before its notice came closed its connection: no notice to get.
    const doneBeforeSignal: boolean[] = uploads.map(() => false)
    // Set once an upload listens for the notice. The signal waits for all of them: a notice that
    // came while a client still waited for its welcome or its file_start_ack would end that wait
    // with a closed connection, and the phase would fail on its own timing, not on the server.
    const listening: boolean[] = uploads.map(() => false)
    const sends = uploads.map(async (upload, i) => {
      const client = await MessageClient.connect(first.ports.message as number, { keep: false })
      await client.nextOfType('welcome')
      const offset = await upload.start(client)
      const onMessage = client.onMessage
      client.onMessage = (m) => {
        onMessage?.(m)
        if (m.type === 'server_shutdown') {
          noticed[i] = true
          client.socket.end()
        }
      }
      listening[i] = true
      await upload.send(client, offset, { stop: () => noticed[i] === true })
      if (!noticed[i] && upload.acked >= size) doneBeforeSignal[i] = true
      client.close()
    })
    const total = count * size
    await waitFor(
      () => listening.every(Boolean) && uploads.reduce((sum, u) => sum + u.acked, 0) >= total / 3,
      60_000,
    )
    const signalledAt = Date.now()
    first.kill('SIGTERM')
    await Promise.all(sends)
    const exited = await waitFor(() => !first.alive, GRACE_PERIOD + 20_000)
    const acked = uploads.map((u) => u.acked)
    report.figures.uploads = `${count} × ${mib(size)}`
    report.figures['acknowledged at SIGTERM'] =
      `${mib(acked.reduce((a, b) => a + b, 0))} of ${mib(total)}`
    report.figures['completed before their notice'] = doneBeforeSignal.filter(Boolean).length
    const missed = uploads
      .map((u, i) => (noticed[i] || doneBeforeSignal[i] ? undefined : (u.error?.code ?? 'closed')))
      .filter((x) => x !== undefined)
    if (missed.length > 0) report.figures['without a notice, ended by'] = missed.join(', ')
    report.figures['first server exit'] = exited
      ? `${first.exitCode} after ${Date.now() - signalledAt} ms`
      : 'still running'
    expect(
      report,
      first.exitCode === 0,
      `the server exited with ${first.exitCode ?? first.exitSignal} during uploads`,
    )
    expect(
      report,
      noticed.every((n, i) => n || doneBeforeSignal[i]),
      `${noticed.filter((n, i) => !n && !doneBeforeSignal[i]).length} uploaders got no server_shutdown`,
    )

    const second = await context.startServer({ flags })
    let lost = 0
    let resumed = 0
    let intact = 0
    const offsets: number[] = []
    await pool(count, count, async (i) => {
      const upload = uploads[i] as DocsUpload
      const client = await MessageClient.connect(second.ports.message as number, { keep: false })
      try {
        await client.nextOfType('welcome')
        const offset = await upload.start(client)
        offsets.push(offset)
        if (offset < (acked[i] ?? 0)) lost += (acked[i] ?? 0) - offset
        if (offset > 0) resumed++
        await upload.send(client, offset)
        const done = await upload.end(client)
        const onDisk = readFileSync(join(dir, upload.filename))
        if (done.sha256 === upload.sha256 && onDisk.equals(upload.content)) intact++
      } catch (error) {
        report.failures.push(`upload ${i} after the restart: ${(error as Error).message}`)
      } finally {
        client.close()
      }
    })
    report.figures['resumed (offset > 0)'] = `${resumed}/${count}`
    report.figures['acknowledged bytes lost'] = lost
    report.figures['complete and intact after resume'] = `${intact}/${count}`
    expect(report, lost === 0, `${lost} acknowledged bytes were lost by the shutdown`)
    expect(
      report,
      intact === count,
      `${count - intact} uploads did not complete intact after the restart`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The disk fills up during an upload (a small tmpfs, filled from outside once the upload is
 * under way): the upload fails with a coded error, the connection and the server go on, and
 * once there is room again a new upload completes. Needs root for the mount; skipped without.
 */
export async function diskFullDuringUpload(
  context: ScenarioContext,
  report: Report,
): Promise<void> {
  const mount = mkdtempSync(join(tmpdir(), 'verb-tcp-reliability-disk-'))
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96m', 'tmpfs', mount]).status === 0
  if (!mounted) {
    rmSync(mount, { recursive: true, force: true })
    report.figures['disk full'] = 'not run: mounting a small tmpfs needs root'
    return
  }
  const dir = join(mount, 'uploads')
  mkdirSync(dir)
  try {
    const server = await context.startServer({ flags: { ...SHUTDOWN_FLAGS, 'upload-dir': dir } })
    if (server.ports.message === undefined) return
    const client = await MessageClient.connect(server.ports.message, { keep: false })
    await client.nextOfType('welcome')
    const upload = new DocsUpload('reliability-disk', 'big.bin', randomBytes(16 * MiB))
    const offset = await upload.start(client)
    await upload.send(client, offset, { until: 2 * MiB })
    // Fill the disk but for a little: the rest of the upload cannot be written.
    const free = statfsSync(mount).bavail * statfsSync(mount).bsize
    writeFileSync(join(mount, 'filler'), Buffer.alloc(Math.max(0, free - 256 * 1024)))
    await upload.send(client, upload.acked)
    const code = upload.error?.code
    report.figures['disk full: error'] = `${code ?? 'none'} after ${mib(upload.acked)} acknowledged`
    expect(report, typeof code === 'string', 'the upload on a full disk got no error')
    const pong = client.next(
      (m) => m.type === 'pong' && m.id === 'after-disk-full',
      10_000,
      'a pong after the disk filled',
    )
    client.send({ type: 'ping', id: 'after-disk-full' })
    const connectionLives = await pong.then(
      () => true,
      () => false,
    )
    expect(report, connectionLives, 'the connection did not go on after the disk-full error')
    // The error is sent as soon as the write fails; the partial and its metadata are removed
    // right after, once the writes still in flight have settled.
    const leftovers = () =>
      readdirSync(dir, { recursive: true }).filter(
        (name) => String(name) !== '.partial' && !String(name).endsWith('.lock'),
      )
    await waitFor(() => leftovers().length === 0, 10_000)
    const left = leftovers()
    report.figures['disk full: left in the upload dir'] = left.join(', ') || 'nothing'
    expect(report, left.length === 0, `the failed upload left ${left.join(', ')} behind`)
    rmSync(join(mount, 'filler'))
    const again = new DocsUpload('reliability-disk-2', 'after.bin', randomBytes(MiB))
    let completed = false
    try {
      await again.send(client, await again.start(client))
      const done = await again.end(client)
      completed = done.sha256 === again.sha256
    } catch (error) {
      report.failures.push(
        `disk full: the upload after freeing space failed: ${(error as Error).message}`,
      )
    }
    report.figures['disk full: upload after freeing space'] = completed
      ? 'complete, digest matches'
      : 'failed'
    expect(report, completed, 'no upload completed after space was freed')
    expect(report, server.alive, 'the server died when the disk filled')
    client.close()
    await server.stop()
  } finally {
    spawnSync('umount', [mount])
    rmSync(mount, { recursive: true, force: true })
  }
}
