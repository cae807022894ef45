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
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import crc32c from '@chainsafe/fast-crc32c'
import { uncompress } from 'snappyjs'

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
class Reader {
  readonly bytes: Uint8Array
  pos: number
  readonly end: number

  constructor (bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes
    this.pos = pos
    this.end = end
  }

  get done (): boolean { return this.pos >= this.end }

  varint (): number {
    let value = 0
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) throw new Corrupt('truncated varint')
      const b = this.bytes[this.pos++]
      value += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return value
    }
    throw new Corrupt('varint too long')
  }

  slice (length = this.varint()): Uint8Array {
    if (this.pos + length > this.end) throw new Corrupt('truncated slice')
    const s = this.bytes.subarray(this.pos, this.pos + length)
    this.pos += length
    return s
  }
}

/**
 * The records of a LevelDB log (the MANIFEST and the write-ahead logs), as
 * db/log_reader.cc reads them with checksums on: a problem is what LevelDB
 * would report as corruption; a torn end of the file is not one.
 */
export function readLogRecords (bytes: Uint8Array): { records: Uint8Array[], problem?: string } {
  const records: Uint8Array[] = []
  let parts: Uint8Array[] | undefined
  for (let block = 0; block < bytes.length; block += LOG_BLOCK) {
    const end = Math.min(block + LOG_BLOCK, bytes.length)
    // LevelDB's eof: the read of this block came back short.
    const last = bytes.length - block < LOG_BLOCK
    for (let at = block; end - at >= LOG_HEADER;) {
      const length = bytes[at + 4] | (bytes[at + 5] << 8)
      const type = bytes[at + 6]
      if (at + LOG_HEADER + length > end) {
        if (last) return { records }
        return { records, problem: `bad record length at offset ${at}` }
      }
      // Preallocated, never written: the rest of the block.
      if (type === RecordType.ZERO && length === 0) break
      const expected = unmask(new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true))
      if (crcOf(bytes.subarray(at + 6, at + LOG_HEADER + length)) !== expected) return { records, problem: `checksum mismatch at offset ${at}` }
      const payload = bytes.subarray(at + LOG_HEADER, at + LOG_HEADER + length)
      at += LOG_HEADER + length
      if (type === RecordType.FULL || type === RecordType.FIRST) {
        // An empty FIRST left by old writers at a block's end is no torn record.
        if (parts !== undefined && parts.some(p => p.length > 0)) return { records, problem: `a record without its end before offset ${at}` }
        if (type === RecordType.FULL) {
          records.push(payload)
          parts = undefined
        } else {
          parts = [payload]
        }
      } else if (type === RecordType.MIDDLE || type === RecordType.LAST) {
        if (parts === undefined) return { records, problem: `a record's continuation without its start at offset ${at}` }
        parts.push(payload)
        if (type === RecordType.LAST) {
          records.push(Buffer.concat(parts))
          parts = undefined
        }
      } else {
        return { records, problem: `unknown record type ${type} at offset ${at}` }
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
  readonly bytes: Uint8Array
  readonly view: DataView
  readonly footer: number

  constructor (bytes: Uint8Array) {
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.footer = bytes.length - TABLE_FOOTER
    if (bytes.length < TABLE_FOOTER) throw new Corrupt('is shorter than a table footer')
    if (this.view.getUint32(bytes.length - 8, true) !== MAGIC_LOW || this.view.getUint32(bytes.length - 4, true) !== MAGIC_HIGH) throw new Corrupt('has no table footer (truncated or overwritten)')
  }

  /** The metaindex and index blocks' handles, from the footer. */
  get handles (): { metaindex: Handle, index: Handle } {
    const r = new Reader(this.bytes, this.footer, this.bytes.length - 8)
    return { metaindex: handleOf(r), index: handleOf(r) }
  }

  /** A block's contents once its checksum passed (uncompressed when `decode`). */
  block (h: Handle, what: string, decode: boolean): Uint8Array | undefined {
    if (h.offset + h.size + BLOCK_TRAILER > this.footer) throw new Corrupt(`${what} block at ${h.offset} runs past the footer`)
    const stored = this.bytes.subarray(h.offset, h.offset + h.size + 1)
    if (crcOf(stored) !== unmask(this.view.getUint32(h.offset + h.size + 1, true))) throw new Corrupt(`${what} block at offset ${h.offset} fails its checksum`)
    if (!decode) return undefined
    const type = this.bytes[h.offset + h.size]
    const contents = this.bytes.subarray(h.offset, h.offset + h.size)
    if (type === 0) return contents
    if (type === 1) return uncompress(contents)
    throw new Corrupt(`${what} block at offset ${h.offset} has unknown compression ${type}`)
  }

  /** The data blocks' handles, from the index block. */
  dataHandles (): Handle[] {
    return blockEntries(this.block(this.handles.index, 'index', true) as Uint8Array).map(({ value }) => handleOf(new Reader(value)))
  }
}

/** Checks one table file; returns its problem, if any. */
export function checkTable (bytes: Uint8Array, expectedSize?: number): string | undefined {
  if (expectedSize !== undefined && bytes.length !== expectedSize) return `is ${bytes.length} bytes long, the MANIFEST says ${expectedSize}`
  try {
    const table = new TableReader(bytes)
    const checked: Handle[] = [table.handles.index, table.handles.metaindex]
    for (const h of table.dataHandles()) {
      table.block(h, 'data', false)
      checked.push(h)
    }
    for (const { value } of blockEntries(table.block(table.handles.metaindex, 'metaindex', true) as Uint8Array)) {
      const h = handleOf(new Reader(value))
      table.block(h, 'filter', false)
      checked.push(h)
    }
    // Every byte before the footer belongs to a checked block: none is read unchecked.
    checked.sort((a, b) => a.offset - b.offset)
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
export function readableEntries (bytes: Uint8Array): Array<{ key: Uint8Array, value: Uint8Array }> {
  const found: Array<{ key: Uint8Array, value: Uint8Array }> = []
  let handles: Handle[]
  let table: TableReader
  try {
    table = new TableReader(bytes)
    handles = table.dataHandles()
  } catch (err) {
    if (err instanceof Corrupt) return found
    throw err
  }
  for (const h of handles) {
    let contents: Uint8Array
    try {
      contents = table.block(h, 'data', true) as Uint8Array
      for (const { key, value } of blockEntries(contents)) {
        // The tag's low byte, little-endian first: 1 is a value, 0 a deletion.
        if (key.length >= 8 && key[key.length - 8] === 1) found.push({ key: key.subarray(0, key.length - 8), value })
      }
    } catch (err) {
      if (!(err instanceof Corrupt)) throw err
    }
  }
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
    const manifest = await readIfThere(join(dir, manifestName))
    if (manifest === undefined) damage.push({ file: manifestName, problem: 'is missing' })
    else {
      const { records, problem } = readLogRecords(manifest)
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
    const bytes = await readIfThere(join(dir, name))
    const problem = bytes === undefined ? 'is missing' : checkTable(bytes, size)
    if (problem !== undefined) damage.push({ file: name, problem })
  }
  // The logs LevelDB replays at open (DBImpl::Recover).
  const logs = names.filter(n => /^\d+\.log$/.test(n) && (version === undefined || fileNumber(n) >= version.logNumber || fileNumber(n) === version.prevLogNumber))
  for (const name of logs) {
    const bytes = await readIfThere(join(dir, name))
    const problem = bytes === undefined ? undefined : readLogRecords(bytes).problem
    if (problem !== undefined) damage.push({ file: name, problem })
  }
  return damage
}
