#!/usr/bin/env node
// Launcher: coints needs Node >= 22 (libp2p 3) and runs TypeScript directly, so it
// starts src/cli/main.ts on the Node 24 binary that the `node` npm package installed,
// whatever Node started this file.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
let node
try {
  node = require.resolve('node/bin/node')
} catch {
  process.stderr.write('coints: the bundled Node 24 is missing; run `npm install` in the coints directory\n')
  process.exit(1)
}
const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
// The same V8 flags as src/cli/runtime-flags.ts (this file must run on Node 20, without TypeScript).
const child = spawn(node, ['--max-semi-space-size=1', main, ...process.argv.slice(2)], { stdio: 'inherit' })
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { child.kill(signal) })
child.on('exit', (code, signal) => { process.exit(code ?? (signal === null ? 1 : 128)) })
