// Preloaded by the `npm run example:*` scripts (`node --import ./examples/shared/need-build.mjs …`): the
// examples import Meridian by its package name (`meridian/client/node`, `meridian/server`), as an app
// would, and those resolve to dist/. Without a build, say how to get one instead of a module-not-found trace.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
for (const file of ['dist/node/client/node.js', 'dist/node/server/index.js']) {
  if (!existsSync(join(root, file))) {
    process.stderr.write(`example: ${file} is missing; run \`npm run build\` (or \`npm start\`, which builds it) first\n`)
    process.exit(1)
  }
}
