import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** Bytes of the files under a directory (as `du --apparent-size`); 0 when it does not exist. Files that vanish meanwhile count 0. */
export async function directoryBytes (path: string): Promise<number> {
  let entries
  try {
    entries = await readdir(path, { withFileTypes: true })
  } catch {
    return 0
  }
  let total = 0
  for (const entry of entries) {
    const child = join(path, entry.name)
    if (entry.isDirectory()) total += await directoryBytes(child)
    else if (entry.isFile()) total += await stat(child).then(s => s.size, () => 0)
  }
  return total
}

/**
 * A directory's bytes (directoryBytes), walked at most once every maxAgeMs and
 * up to that old: a figure polled often (getblockchaininfo's size_on_disk, by
 * every poll of a swarm) costs a walk only when stale. Calls meanwhile share
 * the walk under way.
 */
export class CachedDirectoryBytes {
  readonly #path: string
  readonly #maxAgeMs: number
  readonly #now: () => number
  #measuredAt = -Infinity
  #bytes = 0
  #walk: Promise<number> | undefined

  constructor (path: string, maxAgeMs: number, now: () => number = Date.now) {
    this.#path = path
    this.#maxAgeMs = maxAgeMs
    this.#now = now
  }

  async bytes (): Promise<number> {
    if (this.#now() - this.#measuredAt < this.#maxAgeMs) return this.#bytes
    this.#walk ??= directoryBytes(this.#path).then(bytes => {
      this.#bytes = bytes
      this.#measuredAt = this.#now()
      return bytes
    }).finally(() => { this.#walk = undefined })
    return await this.#walk
  }
}

/** Whether a write failed for want of space: Node's ENOSPC, or LevelDB's "IO error: …: No space left on device". */
export function isNoSpace (err: unknown): boolean {
  const cause = (err as { cause?: unknown })?.cause
  return (err as NodeJS.ErrnoException)?.code === 'ENOSPC' || /No space left|ENOSPC/.test((err as Error)?.message ?? '') || (cause !== undefined && isNoSpace(cause))
}

/**
 * A failed write as one coded line: DISK_FULL, with what to do and what a
 * restart gives back (`resumes`), when it failed for want of space; else WRITE_FAILED.
 */
export function writeFailure (what: string, err: unknown, resumes: string): { code: 'DISK_FULL' | 'WRITE_FAILED', message: string } {
  const message = (err as Error).message
  return isNoSpace(err)
    ? { code: 'DISK_FULL', message: `${what} failed: the disk is full (${message}); free some space and start the node again: ${resumes}` }
    : { code: 'WRITE_FAILED', message: `${what} failed: ${message}` }
}
