import { expect, type Scenario } from '../scenario.ts'
import { SHUTDOWN_FLAGS, sigtermDuringBroadcasts, sigtermEchoClients } from './shutdown.ts'
import { diskFullDuringUpload, sigtermDuringUploads } from './uploads.ts'

/**
 * Faults: SIGTERM with a busy population on each port (clients that close, reset or ignore the
 * notice); the Redis and disk faults run when the server under test has those features.
 */
export const faults: Scenario = {
  name: 'faults',
  needs: ['echo'],
  async run(context, report) {
    const parts: string[] = []
    const echoServer = await context.startServer({ flags: SHUTDOWN_FLAGS })
    parts.push('SIGTERM with echo clients that end, reset or ignore the goodbye')
    const echoReport = { load: '', figures: {}, failures: [] as string[] }
    await sigtermEchoClients(context, echoReport, echoServer)
    prefix(report, 'echo', echoReport)
    const messageServer = await context.startServer({ flags: SHUTDOWN_FLAGS })
    if (messageServer.ports.message !== undefined) {
      parts.push('SIGTERM during broadcasts on the message port')
      const r = { load: '', figures: {}, failures: [] as string[] }
      await sigtermDuringBroadcasts(context, r, messageServer)
      prefix(report, 'broadcasts', r)
    } else {
      await messageServer.stop()
      report.figures['not run'] = 'SIGTERM during broadcasts (no message port)'
    }
    parts.push('SIGTERM during uploads, then resume on a new server')
    const uploads = { load: '', figures: {}, failures: [] as string[] }
    await sigtermDuringUploads(context, uploads)
    prefix(report, 'uploads', uploads)
    parts.push('disk full during an upload')
    const disk = { load: '', figures: {}, failures: [] as string[] }
    await diskFullDuringUpload(context, disk)
    prefix(report, 'disk', disk)
    report.load = parts.join('; ')
    expect(report, true, '')
  },
}

function prefix(
  report: { figures: Record<string, string | number>; failures: string[] },
  name: string,
  part: { figures: Record<string, string | number>; failures: string[] },
): void {
  for (const [k, v] of Object.entries(part.figures)) report.figures[`${name}: ${k}`] = v
  for (const failure of part.failures) report.failures.push(`${name}: ${failure}`)
}
