/**
 * CAR files to and from a running node over its RPC: export reads best-chain
 * blocks in batches (getrawblocks) into a CAR v1 written as it goes; import
 * reads a CAR as a stream and feeds its blocks to the node's validation in
 * batches (submitblocks). Neither holds more than a batch.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CarWriter } from '@ipld/car'
import { Block } from '../core/block.ts'
import { parseCid } from '../core/cbor.ts'
import { CointsError } from '../core/errors.ts'
import { fromHex, toHex } from '../core/hash.ts'
import { blockObjects, CarError, readCarBlocks } from '../ipfs/car.ts'
import { rpcClient, type RpcTarget } from './client.ts'

/** Blocks one getrawblocks call asks for (the node stops at about 4 MB). */
const EXPORT_BATCH = 1_000
/** A submitblocks call carries up to this many blocks, or this many bytes of them (twice that in hex, within RPC's 8 MB). */
const IMPORT_BATCH = 1_000
const IMPORT_BATCH_BYTES = 2_000_000

/** Writes best-chain blocks `from`..`to` as a CAR v1 with the block at `to` as root; returns the objects and bytes written. */
export async function exportCar (target: RpcTarget, file: string, range: { from?: number, to?: number }, onProgress: (text: string) => void = () => {}): Promise<{ blocks: number, objects: number, root: string }> {
  const rpc = rpcClient(target)
  const height = await rpc('getblockcount')
  const from = range.from ?? 0
  const to = range.to ?? height
  if (from > to || to > height) throw new CointsError('BAD_RANGE', `--from ${from} --to ${to}: the node's best height is ${height} (from ≤ to ≤ ${height})`)
  const root = await rpc('getblockhash', [to])
  const partial = `${file}.partial`
  const { writer, out } = CarWriter.create([parseCid(root)])
  const written = pipeline(Readable.from(out), createWriteStream(partial))
  let objects = 0
  let prev: string | undefined
  try {
    for (let h = from; h <= to;) {
      const batch = await rpc('getrawblocks', [h, Math.min(EXPORT_BATCH, to - h + 1)])
      if (batch.length === 0) throw reorganised(h)
      for (const raw of batch) {
        const block = Block.decode(fromHex(raw.hex))
        // Each block's parent is the one before it: a reorganisation under the export shows here.
        if (block.idString !== raw.id || raw.height !== h || (prev !== undefined && block.header.data.prev?.toString() !== prev)) throw reorganised(h)
        for (const object of blockObjects(block)) await writer.put(object)
        objects += block.txs.length + 2
        prev = raw.id
        h++
      }
      onProgress(`exported ${h - from} of ${to - from + 1} blocks`)
    }
    if (prev !== root) throw reorganised(to)
    await writer.close()
    await written
    await rename(partial, file)
  } catch (err) {
    await writer.close().catch(() => {})
    await written.catch(() => {})
    await rm(partial, { force: true })
    throw err
  }
  return { blocks: to - from + 1, objects, root }
}

function reorganised (height: number): CointsError {
  return new CointsError('REORGANISED', `the node's best chain changed at height ${height} during the export: run it again`)
}

export interface ImportReport {
  /** Blocks by what became of them: connected, side, known, orphan, unwanted. */
  statuses: Record<string, number>
  refused: Array<{ id?: string, code: string, message: string }>
  /** Why the file stopped being read, if it did before its end. */
  failure?: CarError
}

/** Feeds every block of a CAR to the node's processBlock (submitblocks), in batches, as the file is read. */
export async function importCar (target: RpcTarget, file: string, onProgress: (text: string) => void = () => {}): Promise<ImportReport> {
  const rpc = rpcClient(target)
  const report: ImportReport = { statuses: {}, refused: [] }
  let batch: string[] = []
  let bytes = 0
  let done = 0
  const submit = async (): Promise<void> => {
    if (batch.length === 0) return
    const results = await rpc('submitblocks', [batch])
    batch = []
    bytes = 0
    for (const result of results) {
      if ('error' in result) report.refused.push({ id: result.id, ...result.error })
      else report.statuses[result.status] = (report.statuses[result.status] ?? 0) + 1
    }
    done += results.length
    onProgress(`imported ${done} blocks`)
  }
  const source = createReadStream(file)
  try {
    for await (const block of readCarBlocks(source)) {
      const hex = toHex(block.encode())
      if (batch.length >= IMPORT_BATCH || (batch.length > 0 && bytes + hex.length / 2 > IMPORT_BATCH_BYTES)) await submit()
      batch.push(hex)
      bytes += hex.length / 2
    }
  } catch (err) {
    if (!(err instanceof CarError)) throw fileError(err, file)
    report.failure = err
  } finally {
    source.destroy()
    // What the file held whole before a failure is imported; nothing after it is read.
    await submit()
  }
  return report
}

function fileError (err: unknown, file: string): unknown {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return new CointsError('BAD_FILE', `cannot read ${file}: ${(err as Error).message}`)
  return err
}

