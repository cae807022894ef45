// Preloaded (node --import) by every coints process a user starts: bin/coints.js, `npm start`, `npm run bench`.
// Node 24 runs coints' .ts files by type stripping, which loads a wasm transpiler (some 18 MB resident, and
// start-up time) for each module V8's compile cache does not hold. A preload runs before the entry module is
// compiled, which an import in the entry cannot (imports are hoisted). Node's own default place is the OS temp
// dir, which is wiped at boot; this is the per-user cache dir instead. An existing NODE_COMPILE_CACHE wins (Node
// enabled it already), and NODE_DISABLE_COMPILE_CACHE=1 turns it off, as Node documents.
import { enableCompileCache } from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** The per-user cache dir: XDG's on Linux and the BSDs, the platform's own on macOS and Windows. */
function userCacheDir () {
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches')
  if (process.platform === 'win32') return process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local')
  return process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
}

// Never fatal: a cache dir that cannot be written only costs the start-up the cache saves.
if (process.env.NODE_COMPILE_CACHE === undefined) {
  const { directory } = enableCompileCache(join(userCacheDir(), 'coints', 'compile-cache'))
  // The nodes this process spawns (a benchmark's) share it.
  if (directory !== undefined) process.env.NODE_COMPILE_CACHE = directory
}
