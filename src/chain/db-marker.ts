import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from '../util/atomic-file.ts'
import { StoreError } from './records.ts'

/**
 * What a datadir knows about its chain database, kept beside it (not in it):
 * written once the database holds its genesis, so a database found missing or
 * unreadable later is damage to report, never a reason to start a new chain
 * over the old one.
 */
export interface DbMarker {
  network: string
  /** The genesis block id: the database's chain. */
  genesis: string
}

/** `<datadir>/chain.marker` for the database `<datadir>/chain`. */
export function markerPath (dbPath: string): string {
  return `${dbPath.replace(/\/+$/, '')}.marker`
}

export async function readMarker (dbPath: string): Promise<DbMarker | undefined> {
  let text: string
  try {
    text = await readFile(markerPath(dbPath), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const marker = JSON.parse(text) as Partial<DbMarker>
    if (typeof marker.network === 'string' && typeof marker.genesis === 'string') return { network: marker.network, genesis: marker.genesis }
  } catch {}
  throw new StoreError('CORRUPT_MARKER', `${markerPath(dbPath)} is not a chain marker: a datadir's marker holds {"network", "genesis"}; restore it or remove it with the database to start a new chain`)
}

export async function writeMarker (dbPath: string, marker: DbMarker): Promise<void> {
  await writeFileAtomic(markerPath(dbPath), `${JSON.stringify(marker)}\n`, 0o644)
}
