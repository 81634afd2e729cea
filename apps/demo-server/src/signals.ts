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

/** The signal that asks a running server to reload (`kill -HUP`, systemd's `ExecReload`). */
export const RELOAD_SIGNAL = 'SIGHUP'

/**
 * SIGHUP: `onReload` runs for each one. Without a listener SIGHUP ends a Node process, so the
 * server installs this in every process, workers included (a closing terminal sends SIGHUP to
 * the whole process group). Returns a function that removes it.
 */
export function onReloadSignal(onReload: (signal: NodeJS.Signals) => void): () => void {
  process.on(RELOAD_SIGNAL, onReload)
  return () => process.off(RELOAD_SIGNAL, onReload)
}
