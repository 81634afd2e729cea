import { dirname, join, relative } from 'node:path'
import ts from 'typescript'

/**
 * Type-checks files with the compiler options of `<packageDir>/tsconfig.json` (strict, NodeNext,
 * exactOptionalPropertyTypes: what the package's own code meets). Package imports resolve as a
 * user's do, through `exports` to the built `.d.ts`. Returns one readable line per error, with
 * paths relative to the package.
 */
export function typecheckFiles(packageDir: string, files: readonly string[]): string[] {
  if (files.length === 0) return []
  const configPath = join(packageDir, 'tsconfig.json')
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
      },
    },
  )
  if (!parsed) throw new Error(`cannot read ${configPath}`)
  const program = ts.createProgram(files, { ...parsed.options, noEmit: true })
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    if (!d.file || d.start === undefined) return `TS${d.code}: ${text}`
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
    const where = relative(dirname(configPath), d.file.fileName)
    return `${where}:${line + 1}:${character + 1} TS${d.code}: ${text}`
  })
}
