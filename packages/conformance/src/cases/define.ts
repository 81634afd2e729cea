import type { Case } from '../types.ts'

/** A case with its id's protocol prefix added. */
export function cases(protocol: string, list: readonly Case[]): readonly Case[] {
  const ids = new Set<string>()
  return list.map((c) => {
    const id = `${protocol}/${c.id}`
    if (ids.has(id)) throw new Error(`duplicate case id ${id}`)
    ids.add(id)
    return { ...c, id }
  })
}
