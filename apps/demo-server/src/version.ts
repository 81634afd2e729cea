import { readFileSync } from 'node:fs'

/** This app's version, from its package.json (next to `dist/`, where the binaries run from). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}
