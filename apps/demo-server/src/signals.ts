export interface ShutdownHandlers {
  /** The first SIGTERM or SIGINT: close gracefully. */
  onGraceful: (signal: NodeJS.Signals) => void
  /** Any later one: close what is left now. */
  onForce: (signal: NodeJS.Signals) => void
}

/**
 * SIGTERM and SIGINT: the first starts a graceful close, every later one forces it. The
 * listeners stay until the process exits, so a signal during the last moments is not fatal.
 * Returns a function that removes them.
 */
export function onShutdownSignals({ onGraceful, onForce }: ShutdownHandlers): () => void {
  let signalled = false
  const listener = (signal: NodeJS.Signals) => {
    if (signalled) onForce(signal)
    else {
      signalled = true
      onGraceful(signal)
    }
  }
  process.on('SIGTERM', listener)
  process.on('SIGINT', listener)
  return () => {
    process.off('SIGTERM', listener)
    process.off('SIGINT', listener)
  }
}
