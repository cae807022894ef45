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
