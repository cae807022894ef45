/**
 * LevelDB's own checksums, verified from outside. classic-level 3 opens LevelDB
 * with `paranoid_checks` off and reads with `verify_checksums` off, and offers
 * neither option: a flipped byte in a table is returned as data, or a key is
 * not found. So before the database is opened, every file it will read is
 * checked here against the checksums LevelDB wrote (its formats: table/format.cc,
 * db/log_format.h, db/version_edit.cc of LevelDB 1.20):
 * - CURRENT names a MANIFEST, whose records (a log) pass their CRC32C;
 * - every table the MANIFEST lists exists with the size it records, each of its
 *   blocks (data, filter, metaindex, index) passes its CRC32C, and the blocks
 *   tile the file up to its footer;
 * - every write-ahead log still to be replayed passes its CRC32C record by
 *   record; a record torn at the end of a log is a crash's normal leftover
 *   (LevelDB drops it too), anything else is damage.
 */
import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import crc32c from '@chainsafe/fast-crc32c'
import { uncompress } from 'snappyjs'
import { ByteCursor } from '../util/byte-cursor.ts'

/** A damaged or missing file of the database. */
export interface DbDamage {
  file: string
  problem: string
}

const LOG_BLOCK = 32_768
const LOG_HEADER = 7
const TABLE_FOOTER = 48
const BLOCK_TRAILER = 5
const MAGIC_LOW = 0x8b80fb57
const MAGIC_HIGH = 0xdb477524
const MASK_DELTA = 0xa282ead8

const RecordType = { ZERO: 0, FULL: 1, FIRST: 2, MIDDLE: 3, LAST: 4 } as const

function unmask (masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0
  return ((rot >>> 17) | (rot << 15)) >>> 0
}

function crcOf (bytes: Uint8Array): number {
  return crc32c.calculate(bytes) >>> 0
}

class Corrupt extends Error {}

/** A cursor over LevelDB's varints and length-prefixed slices. */
class Reader extends ByteCursor {
  constructor (bytes: Uint8Array, pos = 0, end = bytes.length) {
    super(bytes, what => new Corrupt(what), pos, end)
  }
}

/**
 * A file read through one window of fixed size: a check reads every table and
 * log once, and a buffer of each whole file would leave the idle node's memory
 * megabytes higher. A range returned is valid until the next one is asked for.
 */
class FileWindow {
  static readonly SIZE = 256 * 1024
  readonly size: number
  readonly #file: FileHandle
  #buffer = Buffer.allocUnsafe(FileWindow.SIZE)
  #start = 0
  #end = 0

  private constructor (file: FileHandle, size: number) {
    this.#file = file
    this.size = size
  }

  /** Runs `fn` over the file; undefined if there is no such file. */
  static async over<T> (path: string, fn: (w: FileWindow) => Promise<T>): Promise<T | undefined> {
    let file: FileHandle
    try {
      file = await open(path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    try {
      return await fn(new FileWindow(file, (await file.stat()).size))
    } finally {
      await file.close()
    }
  }

  async range (offset: number, length: number): Promise<Uint8Array> {
    if (offset < this.#start || offset + length > this.#end) {
      // A block larger than the window (a large value) gets a buffer of its own.
      const want = Math.max(length, Math.min(FileWindow.SIZE, this.size - offset))
      const buffer = want > FileWindow.SIZE ? Buffer.allocUnsafe(want) : this.#buffer
      const { bytesRead } = await this.#file.read(buffer, 0, want, offset)
      if (buffer === this.#buffer) {
        this.#start = offset
        this.#end = offset + bytesRead
      }
      if (bytesRead < length) throw new Corrupt(`ends at ${offset + bytesRead}, inside a block`)
      return buffer.subarray(0, length)
    }
    return this.#buffer.subarray(offset - this.#start, offset - this.#start + length)
  }
}

/**
 * The records of a LevelDB log (the MANIFEST and the write-ahead logs), as
 * db/log_reader.cc reads them with checksums on: a problem is what LevelDB
 * would report as corruption; a torn end of the file is not one. Records are
 * kept only when `keep` (the MANIFEST's; a write-ahead log's are only checked).
 */
async function readLog (file: FileWindow, keep: boolean): Promise<{ records: Uint8Array[], problem?: string }> {
  const records: Uint8Array[] = []
  /** The fragments of a record under way (only their total length when not kept). */
  let parts: Uint8Array[] | undefined
  let partsLength = 0
  for (let block = 0; block < file.size; block += LOG_BLOCK) {
    const bytes = await file.range(block, Math.min(LOG_BLOCK, file.size - block))
    // LevelDB's eof: the read of this block came back short.
    const last = bytes.length < LOG_BLOCK
    for (let at = 0; bytes.length - at >= LOG_HEADER;) {
      const offset = block + at
      const length = bytes[at + 4] | (bytes[at + 5] << 8)
      const type = bytes[at + 6]
      if (at + LOG_HEADER + length > bytes.length) {
        if (last) return { records }
        return { records, problem: `bad record length at offset ${offset}` }
      }
      // Preallocated, never written: the rest of the block.
      if (type === RecordType.ZERO && length === 0) break
      const expected = unmask(new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true))
      if (crcOf(bytes.subarray(at + 6, at + LOG_HEADER + length)) !== expected) return { records, problem: `checksum mismatch at offset ${offset}` }
      // A copy: the window moves on.
      const payload = keep ? bytes.slice(at + LOG_HEADER, at + LOG_HEADER + length) : new Uint8Array(0)
      at += LOG_HEADER + length
      if (type === RecordType.FULL || type === RecordType.FIRST) {
        // An empty FIRST left by old writers at a block's end is no torn record.
        if (parts !== undefined && partsLength > 0) return { records, problem: `a record without its end before offset ${block + at}` }
        parts = type === RecordType.FULL ? undefined : [payload]
        partsLength = length
        if (type === RecordType.FULL && keep) records.push(payload)
      } else if (type === RecordType.MIDDLE || type === RecordType.LAST) {
        if (parts === undefined) return { records, problem: `a record's continuation without its start at offset ${offset}` }
        parts.push(payload)
        partsLength += length
        if (type === RecordType.LAST) {
          if (keep) records.push(Buffer.concat(parts))
          parts = undefined
        }
      } else {
        return { records, problem: `unknown record type ${type} at offset ${offset}` }
      }
    }
  }
  return { records }
}

interface Version {
  /** Live tables: number → size in bytes. */
  tables: Map<number, number>
  logNumber: number
  prevLogNumber: number
}

/** Applies the MANIFEST's version edits (db/version_edit.cc) in order. */
function versionOf (records: Uint8Array[]): Version {
  const version: Version = { tables: new Map(), logNumber: 0, prevLogNumber: 0 }
  // LevelDB refuses a MANIFEST without these (VersionSet::Recover).
  const seen = new Set<number>()
  for (const record of records) {
    const r = new Reader(record)
    while (!r.done) {
      const tag = r.varint()
      seen.add(tag)
      switch (tag) {
        case 1: r.slice(); break // comparator
        case 2: version.logNumber = r.varint(); break
        case 3: r.varint(); break // next file number
        case 4: r.varint(); break // last sequence
        case 5: r.varint(); r.slice(); break // compaction pointer
        case 6: r.varint(); version.tables.delete(r.varint()); break
        case 7: {
          r.varint() // level
          const number = r.varint()
          version.tables.set(number, r.varint())
          r.slice()
          r.slice()
          break
        }
        case 9: version.prevLogNumber = r.varint(); break
        default: throw new Corrupt(`unknown version edit tag ${tag}`)
      }
    }
  }
  if (![2, 3, 4].every(tag => seen.has(tag))) throw new Corrupt(records.length === 0 ? 'holds no records' : 'holds no complete version')
  return version
}

/** The key/value entries of a table block's contents (table/block.cc). */
function blockEntries (contents: Uint8Array): Array<{ key: Uint8Array, value: Uint8Array }> {
  if (contents.length < 4) throw new Corrupt('block too short')
  const view = new DataView(contents.buffer, contents.byteOffset, contents.byteLength)
  const restarts = contents.length - 4 * (1 + view.getUint32(contents.length - 4, true))
  if (restarts < 0) throw new Corrupt('bad restart count')
  const r = new Reader(contents, 0, restarts)
  const entries: Array<{ key: Uint8Array, value: Uint8Array }> = []
  let key = new Uint8Array(0)
  while (!r.done) {
    const shared = r.varint()
    const unshared = r.varint()
    const valueLength = r.varint()
    if (shared > key.length) throw new Corrupt('bad shared key length')
    key = Buffer.concat([key.subarray(0, shared), r.slice(unshared)])
    entries.push({ key, value: r.slice(valueLength) })
  }
  return entries
}

interface Handle { offset: number, size: number }

function handleOf (r: Reader): Handle {
  return { offset: r.varint(), size: r.varint() }
}

/** A table's parts, read with their checksums checked. */
class TableReader {
  readonly #file: FileWindow
  readonly footer: number
  readonly metaindex: Handle
  readonly index: Handle

  private constructor (file: FileWindow, metaindex: Handle, index: Handle) {
    this.#file = file
    this.footer = file.size - TABLE_FOOTER
    this.metaindex = metaindex
    this.index = index
  }

  static async open (file: FileWindow): Promise<TableReader> {
    if (file.size < TABLE_FOOTER) throw new Corrupt('is shorter than a table footer')
    const footer = await file.range(file.size - TABLE_FOOTER, TABLE_FOOTER)
    const view = new DataView(footer.buffer, footer.byteOffset, footer.byteLength)
    if (view.getUint32(TABLE_FOOTER - 8, true) !== MAGIC_LOW || view.getUint32(TABLE_FOOTER - 4, true) !== MAGIC_HIGH) throw new Corrupt('has no table footer (truncated or overwritten)')
    const r = new Reader(footer, 0, TABLE_FOOTER - 8)
    return new TableReader(file, handleOf(r), handleOf(r))
  }

  /** A block's contents (a copy, uncompressed) once its checksum passed, or nothing but the check. */
  async block (h: Handle, what: string, decode: boolean): Promise<Uint8Array | undefined> {
    if (h.offset + h.size + BLOCK_TRAILER > this.footer) throw new Corrupt(`${what} block at ${h.offset} runs past the footer`)
    const bytes = await this.#file.range(h.offset, h.size + BLOCK_TRAILER)
    const stored = unmask(new DataView(bytes.buffer, bytes.byteOffset + h.size + 1, 4).getUint32(0, true))
    if (crcOf(bytes.subarray(0, h.size + 1)) !== stored) throw new Corrupt(`${what} block at offset ${h.offset} fails its checksum`)
    if (!decode) return undefined
    const type = bytes[h.size]
    if (type === 0) return bytes.slice(0, h.size)
    if (type === 1) return uncompress(bytes.subarray(0, h.size))
    throw new Corrupt(`${what} block at offset ${h.offset} has unknown compression ${type}`)
  }

  async handlesIn (h: Handle, what: string): Promise<Handle[]> {
    return blockEntries(await this.block(h, what, true) as Uint8Array).map(({ value }) => handleOf(new Reader(value)))
  }
}

/** Checks one table file; returns its problem, if any. */
async function checkTable (file: FileWindow, expectedSize?: number): Promise<string | undefined> {
  if (expectedSize !== undefined && file.size !== expectedSize) return `is ${file.size} bytes long, the MANIFEST says ${expectedSize}`
  try {
    const table = await TableReader.open(file)
    const data = await table.handlesIn(table.index, 'index')
    const filters = await table.handlesIn(table.metaindex, 'metaindex')
    for (const h of data) await table.block(h, 'data', false)
    for (const h of filters) await table.block(h, 'filter', false)
    // Every byte before the footer belongs to a checked block: none is read unchecked.
    const checked = [table.index, table.metaindex, ...data, ...filters].sort((a, b) => a.offset - b.offset)
    let next = 0
    for (const h of checked) {
      if (h.offset !== next) return `has ${h.offset - next} bytes outside any block at offset ${next}`
      next = h.offset + h.size + BLOCK_TRAILER
    }
    if (next !== table.footer) return `has ${table.footer - next} bytes outside any block at offset ${next}`
  } catch (err) {
    if (err instanceof Corrupt) return err.message
    throw err
  }
  return undefined
}

/**
 * The values still readable in a damaged table: every key put (not deleted) in
 * a data block whose checksum passes. Keys are LevelDB's user keys (the
 * internal key less its 8-byte sequence and type). None if its index is lost.
 */
export async function readableEntries (path: string): Promise<Array<{ key: Uint8Array, value: Uint8Array }>> {
  const found: Array<{ key: Uint8Array, value: Uint8Array }> = []
  await FileWindow.over(path, async file => {
    let table: TableReader
    let handles: Handle[]
    try {
      table = await TableReader.open(file)
      handles = await table.handlesIn(table.index, 'index')
    } catch (err) {
      if (err instanceof Corrupt) return
      throw err
    }
    for (const h of handles) {
      try {
        for (const { key, value } of blockEntries(await table.block(h, 'data', true) as Uint8Array)) {
          // The tag's low byte, little-endian first: 1 is a value, 0 a deletion.
          if (key.length >= 8 && key[key.length - 8] === 1) found.push({ key: key.subarray(0, key.length - 8), value })
        }
      } catch (err) {
        if (!(err instanceof Corrupt)) throw err
      }
    }
  })
  return found
}

const fileNumber = (name: string): number => Number(name.slice(0, name.indexOf('.')))

async function readIfThere (path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/**
 * The process holding LevelDB's lock on the database (from Linux's
 * /proc/locks), if any: files a running node writes are no damage to report.
 */
export async function lockHolder (dir: string): Promise<number | undefined> {
  let locks: string
  let id: string
  try {
    const lock = await stat(join(dir, 'LOCK'))
    locks = await readFile('/proc/locks', 'utf8')
    const major = (lock.dev >> 8) & 0xfff
    const minor = (lock.dev & 0xff) | ((lock.dev >> 12) & 0xfff00)
    id = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${lock.ino}`
  } catch {
    return undefined
  }
  for (const line of locks.split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (fields[5] === id) return Number(fields[4])
  }
  return undefined
}

/** Whether the directory holds any file of a LevelDB database (tables, logs, a MANIFEST or CURRENT). */
export async function hasDbFiles (dir: string): Promise<boolean> {
  return (await listDir(dir)).some(name => /^(?:\d+\.(?:ldb|sst|log)|MANIFEST-\d+|CURRENT)$/.test(name))
}

async function listDir (dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/**
 * Every damage found in the database at `dir`, before it is opened. Where the
 * MANIFEST cannot be read, every table in the directory is checked instead.
 */
export async function findDbDamage (dir: string): Promise<DbDamage[]> {
  const names = await listDir(dir)
  if (names.length === 0) return [{ file: dir, problem: 'is missing or empty' }]
  const damage: DbDamage[] = []
  let version: Version | undefined
  const current = await readIfThere(join(dir, 'CURRENT'))
  const manifestName = current === undefined ? undefined : /^(MANIFEST-\d+)\n$/.exec(Buffer.from(current).toString('latin1'))?.[1]
  if (current === undefined) damage.push({ file: 'CURRENT', problem: 'is missing' })
  else if (manifestName === undefined) damage.push({ file: 'CURRENT', problem: 'does not name a MANIFEST' })
  else {
    const manifest = await FileWindow.over(join(dir, manifestName), async file => await readLog(file, true))
    if (manifest === undefined) damage.push({ file: manifestName, problem: 'is missing' })
    else {
      const { records, problem } = manifest
      try {
        if (problem !== undefined) throw new Corrupt(problem)
        version = versionOf(records)
      } catch (err) {
        if (!(err instanceof Corrupt)) throw err
        damage.push({ file: manifestName, problem: err.message })
      }
    }
  }
  const tables = new Map<string, number | undefined>()
  if (version === undefined) {
    for (const name of names) if (/^\d+\.(?:ldb|sst)$/.test(name)) tables.set(name, undefined)
  } else {
    for (const [number, size] of version.tables) {
      const ldb = `${String(number).padStart(6, '0')}.ldb`
      tables.set(names.includes(ldb) || !names.includes(`${String(number).padStart(6, '0')}.sst`) ? ldb : `${String(number).padStart(6, '0')}.sst`, size)
    }
  }
  for (const [name, size] of tables) {
    const checked = await FileWindow.over(join(dir, name), async file => ({ problem: await checkTable(file, size) }))
    const problem = checked === undefined ? 'is missing' : checked.problem
    if (problem !== undefined) damage.push({ file: name, problem })
  }
  // The logs LevelDB replays at open (DBImpl::Recover).
  const logs = names.filter(n => /^\d+\.log$/.test(n) && (version === undefined || fileNumber(n) >= version.logNumber || fileNumber(n) === version.prevLogNumber))
  for (const name of logs) {
    const problem = (await FileWindow.over(join(dir, name), async file => await readLog(file, false)))?.problem
    if (problem !== undefined) damage.push({ file: name, problem })
  }
  return damage
}
