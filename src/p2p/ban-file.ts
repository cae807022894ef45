import { readFile, rename } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { read } from '../core/cbor.ts'
import { CointsError, DecodeError } from '../core/errors.ts'
import type { Logger } from '../log.ts'
import { writeFileAtomic } from '../util/atomic-file.ts'
import type { Startable } from '../util/startable.ts'
import type { Ban, BanList } from './ban-list.ts'
import { parseSubnet } from './subnet.ts'

export const BANS_FILE = 'bans.json'
const VERSION = 1

export interface BanFileComponents {
  bans: BanList
  logger: Logger
}

/**
 * `<datadir>/bans.json` (Bitcoin Core's banlist.json): the bans in force,
 * rewritten atomically after each change, one write at a time, so a ban
 * outlives a restart. Ended bans are dropped when it is read and written.
 */
export class BanFile implements Startable {
  readonly #c: BanFileComponents
  readonly #path: string
  #dirty = false
  #writing: Promise<void> | undefined
  #started: Promise<void> | undefined

  constructor (components: BanFileComponents, init: { path: string }) {
    this.#c = components
    this.#path = init.path
  }

  /**
   * Takes the file's bans into the list and writes it again on every change.
   * A missing file is no bans. A damaged one is moved aside (to
   * bans.json.damaged-<ms>) with a warning naming it and the node starts
   * without those bans: losing a ban list costs less than a node that will not
   * start, and nothing is overwritten. An unreadable one (permissions) is an
   * error: writing over it would lose it.
   */
  async load (): Promise<void> {
    let text: string | undefined
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CointsError('BANS_UNREADABLE', `cannot read ${this.#path}: ${(err as Error).message}`)
    }
    if (text !== undefined) {
      try {
        this.#c.bans.restore(parseBanFile(text))
      } catch (err) {
        const aside = `${this.#path}.damaged-${Date.now()}`
        await rename(this.#path, aside)
        this.#c.logger.warn(`${this.#path} is damaged (${(err as Error).message}): moved to ${aside}, starting without its bans`)
      }
    }
    this.#c.bans.onChange(() => { this.#schedule() })
  }

  /** Settles once the latest change is on disk. */
  async flush (): Promise<void> {
    await this.#writing
  }

  /** Loads the file, once: before libp2p starts, so that its bans gate the first connection. */
  async start (): Promise<void> {
    this.#started ??= this.load()
    await this.#started
  }

  /** What changed last is on disk. */
  async stop (): Promise<void> {
    await this.flush()
  }

  #schedule (): void {
    this.#dirty = true
    this.#writing ??= this.#drain()
  }

  async #drain (): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false
      const text = JSON.stringify({ version: VERSION, bans: this.#c.bans.list() }, null, 2) + '\n'
      try {
        await writeFileAtomic(this.#path, text, 0o600)
      } catch (err) {
        // The bans still hold in memory; the next change tries again.
        this.#c.logger.warn(`cannot write ${this.#path}: ${(err as Error).message}`)
      }
    }
    this.#writing = undefined
  }
}

/** The bans of a ban file's text; throws on anything that is not one (the whole file is then set aside). */
export function parseBanFile (text: string): Ban[] {
  const file = read.object(JSON.parse(text), 'ban file')
  read.keys(file, ['version', 'bans'], 'ban file')
  if (file.version !== VERSION) throw new DecodeError('BAD_FIELD', `ban file version ${String(file.version)}, expected ${VERSION}`)
  return read.array(file.bans, 'bans', Number.MAX_SAFE_INTEGER).map((value, n): Ban => {
    const entry = read.object(value, `ban ${n}`)
    read.keys(entry, ['kind', 'target', 'created', 'until', 'reason'], `ban ${n}`)
    const { kind, target, reason } = entry
    if ((kind !== 'peer' && kind !== 'address') || typeof target !== 'string' || typeof reason !== 'string') {
      throw new DecodeError('BAD_FIELD', `ban ${n} needs kind "peer" or "address", a target and a reason`)
    }
    const ban: Ban = { kind, target, created: read.uint(entry.created, `ban ${n} created`), until: read.uint(entry.until, `ban ${n} until`), reason }
    if (kind === 'address') return { ...ban, target: parseSubnet(target).text }
    try {
      peerIdFromString(target)
    } catch {
      throw new DecodeError('BAD_FIELD', `ban ${n}: not a peer id: ${target}`)
    }
    return ban
  })
}
