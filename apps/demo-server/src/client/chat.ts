import { clearLine, createInterface, cursorTo } from 'node:readline'
import { connectMessages, explain, type Msg } from './message-connection.ts'

const HELP = `Commands:
  TEXT               send TEXT to the current room, or to everyone if you are in none
  /join ROOM         join ROOM and make it the current room
  /leave [ROOM]      leave ROOM (default: the current room)
  /room ROOM TEXT    send TEXT to ROOM
  /all TEXT          send TEXT to everyone
  /msg ID TEXT       send TEXT to connection ID only
  /ping              round trip to the server
  /help              this list
  /quit              leave (Ctrl-D too)`

/** `chat`: a person's session on the message port, one line per event. */
export async function runChat({ host, port }: { host: string; port: number }): Promise<void> {
  let connection: Awaited<ReturnType<typeof connectMessages>>
  try {
    connection = await connectMessages(host, port)
  } catch (error) {
    process.stderr.write(`demo-client: ${explain(error, host, port)}\n`)
    process.exitCode = 1
    return
  }
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true
  const rl = createInterface({
    input: process.stdin,
    output: tty ? process.stdout : undefined,
    terminal: tty,
  })
  rl.setPrompt('> ')
  const print = (line: string) => {
    if (tty) {
      clearLine(process.stdout, 0)
      cursorTo(process.stdout, 0)
      process.stdout.write(`${line}\n`)
      rl.prompt(true)
    } else {
      process.stdout.write(`${line}\n`)
    }
  }
  let room: string | undefined
  const pings = new Map<number, number>()
  let nextPing = 0
  const text = (data: unknown) => (typeof data === 'string' ? data : JSON.stringify(data))

  connection.handler.on('message', (m: Msg) => {
    switch (m.type) {
      case 'welcome':
        print(`* connected to ${host}:${port} as ${m.connectionId} (type /help for commands)`)
        if (tty) rl.prompt()
        return
      case 'broadcast':
        return print(`[all] ${m.from}: ${text(m.data)}`)
      case 'room_message':
        return print(`[${m.room}] ${m.from}: ${text(m.data)}`)
      case 'private':
        return print(`[private] ${m.from}: ${text(m.data)}`)
      case 'user_joined':
        return print(`* ${m.connectionId} joined ${m.room}`)
      case 'user_left':
        return print(`* ${m.connectionId} left ${m.room}`)
      case 'joined':
        // The current room changes once the server said yes, not when /join was typed.
        room = m.room
        return print(`* you joined ${m.room}`)
      case 'left':
        return print(`* you left ${m.room}`)
      case 'pong': {
        const sent = pings.get(m.id)
        pings.delete(m.id)
        return print(
          `* pong in ${sent === undefined ? '?' : (performance.now() - sent).toFixed(2)} ms`,
        )
      }
      case 'error':
        return print(`! ${m.code}: ${m.message}`)
      case 'server_shutdown':
        return print('* the server is shutting down')
      default:
        return print(`* ${JSON.stringify(m)}`)
    }
  })
  connection.socket.on('close', () => {
    print('* disconnected')
    rl.close()
  })

  const send = (message: Msg) => {
    if (!connection.socket.writable) return print('! not connected')
    connection.send(message)
  }
  rl.on('line', (line) => {
    const input = line.trim()
    if (input === '') return tty ? rl.prompt() : undefined
    const [word, ...words] = input.split(/\s+/)
    const after = (n: number) => input.split(/\s+/).slice(n).join(' ')
    // A command that lacks what it needs gets its usage line, an unknown one says so: the
    // whole list again would hide what went wrong.
    const usage = (text: string) => print(`! usage: ${text}`)
    switch (word) {
      case '/join':
        if (words[0] === undefined) usage('/join ROOM')
        else send({ type: 'join_room', room: words[0] })
        break
      case '/leave': {
        const which = words[0] ?? room
        if (which === undefined) print('! you are in no room (/leave ROOM leaves ROOM)')
        else {
          if (which === room) room = undefined
          send({ type: 'leave_room', room: which })
        }
        break
      }
      case '/room':
        if (words.length < 2) usage('/room ROOM TEXT')
        else send({ type: 'room_message', room: words[0], data: after(2) })
        break
      case '/all':
        if (words.length < 1) usage('/all TEXT')
        else send({ type: 'broadcast', data: after(1) })
        break
      case '/msg':
        if (words.length < 2) usage('/msg ID TEXT')
        else send({ type: 'private', target: words[0], data: after(2) })
        break
      case '/ping': {
        const id = ++nextPing
        pings.set(id, performance.now())
        send({ type: 'ping', id })
        break
      }
      case '/quit':
        rl.close()
        return
      case '/help':
        print(HELP)
        break
      default:
        if (word?.startsWith('/')) print(`! unknown command ${word} (/help lists the commands)`)
        else if (room !== undefined) send({ type: 'room_message', room, data: input })
        else send({ type: 'broadcast', data: input })
    }
    if (tty) rl.prompt()
  })
  await new Promise<void>((resolve) => {
    rl.once('close', () => {
      connection.socket.end()
      // /quit with stdin still open (a pipe, a terminal): it would keep the process alive.
      process.stdin.destroy()
      resolve()
    })
  })
  if (!connection.socket.destroyed)
    await new Promise((resolve) => connection.socket.once('close', resolve))
}
