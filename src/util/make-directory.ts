import { mkdir, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/**
 * `mkdir -p`, one level at a time. Node's `mkdir(path, { recursive: true })`
 * (MKDirp in its src/node_file.cc) retries without end when the kernel answers
 * ENOENT for a directory whose parent exists, as /proc does: `--datadir /proc/x`
 * spun at full CPU, deaf to SIGTERM. Here that ENOENT is thrown, with its path.
 * See docs/upstream/node-recursive-mkdir.md.
 */
export async function makeDirectory (path: string, mode?: number): Promise<void> {
  const missing: string[] = []
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      await stat(dir)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      missing.push(dir)
      if (dirname(dir) === dir) break
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir, { mode })
    } catch (err) {
      // Made meanwhile by another process: as good as made here.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
}
