import { createServer, type Server } from 'node:http'
import type { Logger } from 'pino'

export interface HttpOptions {
  logger: Logger
  /** The Prometheus text and its content type. */
  metrics: () => Promise<{ text: string; contentType: string }>
  /** What `/healthz` reports; `ok: false` answers 503 (shutting down). */
  health: () => { ok: boolean; [field: string]: unknown }
}

/** The HTTP port: `GET /metrics` (Prometheus text) and `GET /healthz` (JSON). */
export function createHttpServer({ logger, metrics, health }: HttpOptions): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/healthz') {
      const state = health()
      res.writeHead(state.ok ? 200 : 503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: state.ok ? 'ok' : 'shutting_down', ...state }))
      return
    }
    if (path === '/metrics') {
      metrics().then(
        ({ text, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(text),
        (error: unknown) => {
          logger.error({ err: error }, 'metrics failed')
          res.writeHead(500).end()
        },
      )
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics or /healthz\n')
  })
  // HTTP keep-alive connections would hold close() for their idle timeout.
  server.keepAliveTimeout = 1000
  server.on('clientError', (_error, socket) => socket.destroy())
  return server
}
