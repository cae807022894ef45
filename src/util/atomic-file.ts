import { randomBytes } from 'node:crypto'
import { open, readdir, rename, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'

/** `<file>.<pid>.<12 hex>.tmp`: the temporary file of a write by process `pid`. */
const TEMP = /^.+\.\d+\.[0-9a-f]{12}\.tmp$/
/** The temporary files of this process's writes under way (absolute paths). */
const writing = new Set<string>()

/**
 * Write, fsync, rename, fsync the directory: a crash leaves the old file or the
 * new one, never a torn one. Each write has a temporary file of its own, so two
 * writes of one path at once cannot truncate each other's.
 */
export async function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  // Named after its process, so removeStaleTemps can tell a dead write's leftover (a kill mid-write) from one under way.
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  writing.add(resolve(tmp))
  try {
    const file = await open(tmp, 'wx', mode)
    try {
      await file.writeFile(data)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  } finally {
    writing.delete(resolve(tmp))
  }
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

/**
 * Removes the temporary files that writes in `dir` left when their process was
 * killed mid-write (each may hold what the file holds: a wallet's encrypted
 * seed); those of this process's writes under way stay. Only for a directory
 * this process holds (the node's datadir once its chain database, whose lock
 * keeps any other node out, is open): any other temporary file there is a dead
 * process's, whatever process now has its id (a node in a container starts
 * with the same one every time). Returns the names removed.
 */
export async function removeStaleTemps (dir: string): Promise<string[]> {
  const removed: string[] = []
  for (const name of await readdir(dir)) {
    if (!TEMP.test(name) || writing.has(resolve(dir, name))) continue
    await rm(join(dir, name), { force: true })
    removed.push(name)
  }
  return removed
}
