import { randomBytes } from 'node:crypto'
import { open, readdir, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** `<file>.<pid>.<12 hex>.tmp`: the temporary file of a write by process `pid`. */
const TEMP = /^.+\.(\d+)\.[0-9a-f]{12}\.tmp$/

/**
 * Write, fsync, rename, fsync the directory: a crash leaves the old file or the
 * new one, never a torn one. Each write has a temporary file of its own, so two
 * writes of one path at once cannot truncate each other's.
 */
export async function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  // Named after its process, so removeStaleTemps can tell a dead write's leftover (a kill mid-write) from one under way.
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
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
  }
  const dir = await open(dirname(path), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

/**
 * Removes the temporary files that writes in `dir` left when their process was
 * killed mid-write (each may hold what the file holds: a wallet's encrypted
 * seed). Files of running processes stay. Returns the names removed.
 */
export async function removeStaleTemps (dir: string): Promise<string[]> {
  const removed: string[] = []
  for (const name of await readdir(dir)) {
    const pid = TEMP.exec(name)?.[1]
    if (pid === undefined || Number(pid) === process.pid || isRunning(Number(pid))) continue
    await rm(join(dir, name), { force: true })
    removed.push(name)
  }
  return removed
}
