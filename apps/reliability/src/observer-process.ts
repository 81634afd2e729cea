// The observer in a process of its own: the attackers' work in the suite's process cannot slow
// it down, so what it measures is the server. Driven over IPC by `RemoteObserver`.
import { Observer } from './observer.ts'
import type { Ports } from './server.ts'

const { ports, mux } = JSON.parse(process.argv[2] ?? '{}') as { ports: Ports; mux: boolean }
const observer = new Observer(ports)
observer.start({ mux })
process.on('message', async (message: { type: string; id: number }) => {
  if (message.type === 'take')
    process.send?.({ type: 'progress', id: message.id, progress: observer.take() })
  else if (message.type === 'stop') {
    await observer.stop()
    process.send?.({ type: 'stopped', id: message.id })
    process.disconnect()
  }
})
process.send?.({ type: 'ready' })
