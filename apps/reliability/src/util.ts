import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export { sleep }

/** Rejects after `ms` unless `promise` settles first; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    timer.unref()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Polls `predicate` every `interval` ms until it holds or `ms` have passed; returns whether it held. */
export async function waitFor(
  predicate: () => boolean,
  ms: number,
  interval = 20,
): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) return false
    await sleep(interval)
  }
  return true
}

/** A loopback TCP connection, resolved once connected. Errors after that are the caller's. */
export function connectTo(port: number, timeout = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`connect to ${port} timed out`))
    }, timeout)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeListener('error', onError)
      // Scenarios decide what an error means; none may crash the suite.
      socket.on('error', () => {})
      resolve(socket)
    })
    const onError = (error: Error) => {
      clearTimeout(timer)
      reject(error)
    }
    socket.once('error', onError)
  })
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
export async function pool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) {
      const index = next++
      await task(index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}

/** Resolves when the socket has closed (immediately if it already has). */
export function closed(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve()
  return new Promise((resolve) => socket.once('close', () => resolve()))
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

export const MiB = 1024 * 1024

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`
}
