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
// Enables V8's compile cache before main.ts is compiled (bin/compile-cache.js).
const compileCache = new URL('./compile-cache.js', import.meta.url).href
// The V8 flags every node process runs with (package.json's config.nodeFlags, as src/node/runtime-flags.ts).
const flags = require('../package.json').config.nodeFlags.split(' ')
// The IPC channel ties the child to this process: when it closes, as it does however this process
// dies (SIGKILL included), the child stops as on SIGTERM (src/cli/main.ts), so no orphaned node
// keeps the datadir locked. Node has no exec() to replace this process instead.
const child = spawn(node, [...flags, '--import', compileCache, main, ...process.argv.slice(2)], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] })
// Forwarded over IPC, so that the child counts a Ctrl-C it also got from the terminal once (src/cli/signals.ts).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => { if (child.connected) child.send({ signal }); else child.kill(signal) })
child.on('exit', (code, signal) => { process.exit(code ?? (signal === null ? 1 : 128)) })
