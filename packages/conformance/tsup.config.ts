import { packageConfig } from '../../tsup.package.ts'

export default packageConfig(['src/index.ts', 'src/cli.ts'])
