// A bench-only bridge for measuring the floor of any two-node setup on this machine: two nodes
// joined by one TCP connection, no Redis, no envelope beyond a length and the excluded id, one
// write per turn. It implements just enough of the rooms adapter for the fan-out benchmark
// (broadcasts in one room), not joins, leaves or members queries.
import { createServer, Socket } from 'node:net'

export class DirectLink {
  nodeId = `direct-${process.pid}`
  #host
  #socket
  #out = []
  #scheduled = false
  #pending = Buffer.alloc(0)

  attach(host) {
    this.#host = host
  }

  /** Listens for the peer; resolves with the port. */
  async listen() {
    const server = createServer((socket) => this.#use(socket))
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    return server.address().port
  }

  connect(port) {
    const socket = new Socket()
    socket.connect(port, '127.0.0.1')
    return new Promise((resolve) => socket.once('connect', () => resolve(this.#use(socket))))
  }

  #use(socket) {
    socket.setNoDelay(true)
    this.#socket = socket
    socket.on('data', (chunk) => this.#read(chunk))
  }

  #read(chunk) {
    const data = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk
    let at = 0
    while (data.length - at >= 6) {
      const length = data.readUInt32BE(at)
      const idLength = data.readUInt16BE(at + 4)
      if (data.length - at < 6 + idLength + length) break
      const exclude = data.toString('latin1', at + 6, at + 6 + idLength)
      const bytes = data.subarray(at + 6 + idLength, at + 6 + idLength + length)
      this.#host.deliver('bench', bytes, exclude)
      at += 6 + idLength + length
    }
    this.#pending = data.subarray(at)
  }

  publish(_room, bytes, { exclude = '' }) {
    const head = Buffer.allocUnsafe(6 + exclude.length)
    head.writeUInt32BE(bytes.length, 0)
    head.writeUInt16BE(exclude.length, 4)
    head.write(exclude, 6, 'latin1')
    this.#out.push(head, bytes)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => {
        this.#scheduled = false
        const out = this.#out
        this.#out = []
        this.#socket?.write(Buffer.concat(out))
      })
    }
  }

  subscribe() {}
  unsubscribe() {}
  join() {}
  leave() {}
  async settled() {}
  async members() {
    return { members: [], complete: false }
  }
  async close() {
    this.#socket?.destroy()
  }
}
