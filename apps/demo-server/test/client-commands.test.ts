// The client's smaller promises, against the built binaries (dist/client.js, dist/cli.js): chat
// commands that lack something say what, bad options read as sentences, --version, and an
// upload refused because the name exists (counted and logged as refused; --as uploads it).
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MessageClient } from './message-client.ts'
import { CLI, CLIENT, runClient, startServer, tempDir } from './process.ts'

const built = existsSync(CLI) && existsSync(CLIENT)

/** The value of one `verb_tcp_transfers_total` sample. */
async function transfers(httpPort: number, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`verb_tcp_transfers_total{outcome="${outcome}"} `))
  return Number(line?.split(' ').at(-1))
}

describe.skipIf(!built)('demo-client commands (dist/client.js)', () => {
  it('chat: a command missing its argument prints its usage, an unknown one says so, /help the list', async () => {
    const { ports } = await startServer()
    const other = await MessageClient.join(ports.message)
    const chat = runClient(['chat', '--message-port', String(ports.message)], { stdin: true })
    await chat.textLine((l) => l.startsWith('* connected to'))
    const say = (line: string) => chat.child.stdin?.write(`${line}\n`)
    for (const [input, answer] of [
      ['/foo', '! unknown command /foo (/help lists the commands)'],
      ['/join', '! usage: /join ROOM'],
      ['/leave', '! you are in no room (/leave ROOM leaves ROOM)'],
      ['/msg 2', '! usage: /msg ID TEXT'],
      ['/room lobby', '! usage: /room ROOM TEXT'],
      ['/all', '! usage: /all TEXT'],
    ]) {
      say(input as string)
      await chat.textLine((l) => l === answer)
    }
    say('/help')
    await chat.textLine((l) => l === 'Commands:')
    // Only /help printed the list.
    expect(chat.text.filter((l) => l === 'Commands:')).toHaveLength(1)
    // A refused join does not make the room current: plain text then goes to everyone.
    say(`/join ${'x'.repeat(200)}`)
    await chat.textLine((l) => l.startsWith('! ERR_ROOM_NAME: '))
    say('hello all')
    expect(await other.next((m) => m.type === 'broadcast')).toMatchObject({ data: 'hello all' })
    say('/quit')
    expect((await chat.exited).code).toBe(0)
  })

  it('says which option it does not know, in a sentence, and suggests the near ones', async () => {
    const { code, stderr } = await runClient(['ping', '--port', '1']).exited
    expect(code).toBe(2)
    expect(stderr).toBe(
      'demo-client: unknown option --port (did you mean --message-port or --binary-port?)\nRun with --help for usage.\n',
    )
    const other = await runClient(['ping', '--frobnicate']).exited
    expect(other.stderr).toBe(
      'demo-client: unknown option --frobnicate\nRun with --help for usage.\n',
    )
  })

  it('prints its version', async () => {
    for (const flag of ['--version', '-v']) {
      const { code, stdout } = await runClient([flag]).exited
      expect(code).toBe(0)
      expect(stdout).toMatch(/^demo-client \d+\.\d+\.\d+ \(verb-tcp demo, node v\d+/)
    }
  })

  it('send: an upload refused because the name exists is counted and logged as refused, and --as uploads it under another name', async () => {
    const { run, ports } = await startServer()
    const file = join(tempDir(), 'notes.txt')
    writeFileSync(file, 'hello\n')
    const target = ['--binary-port', String(ports.binary)]
    const first = await runClient(['send', file, ...target]).exited
    expect(first.code).toBe(0)

    const again = await runClient(['send', file, ...target]).exited
    expect(again.code).toBe(1)
    expect(again.stderr).toBe(
      'demo-client: upload failed: notes.txt exists or is being uploaded; to upload it under another name: demo-client send FILE --as NAME\n',
    )
    expect(await run.line((l) => l.msg === 'upload refused')).toMatchObject({
      code: 'exists',
      name: 'notes.txt',
    })
    // The docs' path on the message port is counted the same way.
    const docs = await MessageClient.join(ports.message)
    docs.send({ type: 'file_start', transferId: 't', filename: 'notes.txt', fileSize: 6 })
    expect(await docs.next((m) => m.type === 'error')).toMatchObject({ code: 'exists' })

    const renamed = await runClient(['send', file, '--as', 'notes-2.txt', ...target]).exited
    expect(renamed.code).toBe(0)
    expect(renamed.stdout).toContain('uploaded notes-2.txt: 6 bytes')
    expect(run.lines.filter((l) => l.msg === 'upload started').map((l) => l.name)).toEqual([
      'notes.txt',
      'notes-2.txt',
    ])
    expect({
      started: await transfers(ports.http, 'started'),
      refused: await transfers(ports.http, 'refused'),
      completed: await transfers(ports.http, 'completed'),
      failed: await transfers(ports.http, 'failed'),
    }).toEqual({ started: 2, refused: 2, completed: 2, failed: 0 })
  })
})
