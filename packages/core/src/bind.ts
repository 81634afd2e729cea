import dns from 'node:dns'
import { isIP, type ListenOptions, type Server } from 'node:net'

type Callback = (err: null, address: string, family: number) => void

/**
 * `net.Server#listen` passes every host through `dns.lookup`, even an IP literal, so the socket
 * is bound a tick later and `address()` is null until then. For an IP literal the lookup is
 * answered on the spot, which binds before `listen` returns (the verb docs' tests read `address()`
 * on the next line) and skips a thread-pool round trip. Other hosts take Node's normal path.
 */
export function bind(server: Server, options: ListenOptions): void {
  const family = isIP(options.host ?? '')
  if (family === 0) {
    server.listen(options)
    return
  }
  const lookup = dns.lookup
  dns.lookup = ((host: string, ...rest: unknown[]) => {
    ;(rest.at(-1) as Callback)(null, host, family)
  }) as typeof dns.lookup
  try {
    server.listen(options)
  } finally {
    dns.lookup = lookup
  }
}
