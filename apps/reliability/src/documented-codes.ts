import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { REPO_ROOT } from './server.ts'

/**
 * Every `ERR_…` code the repository documents: the ones its READMEs name. A code the server
 * sends that is in none of them is an undocumented error, which the fuzz scenario reports.
 */
export function documentedCodes(serverBin?: string): Set<string> {
  const codes = new Set<string>()
  // The README of the server under test too, when it is not this repository's demo.
  if (serverBin !== undefined) {
    try {
      const text = readFileSync(join(dirname(serverBin), '..', 'README.md'), 'utf8')
      for (const match of text.matchAll(/ERR_[A-Z0-9_]+/g)) codes.add(match[0])
    } catch {}
  }
  for (const dir of ['packages', 'apps']) {
    let entries: string[] = []
    try {
      entries = readdirSync(join(REPO_ROOT, dir))
    } catch {
      continue
    }
    for (const entry of entries) {
      let text = ''
      try {
        text = readFileSync(join(REPO_ROOT, dir, entry, 'README.md'), 'utf8')
      } catch {
        continue
      }
      for (const match of text.matchAll(/ERR_[A-Z0-9_]+/g)) codes.add(match[0])
    }
  }
  return codes
}
