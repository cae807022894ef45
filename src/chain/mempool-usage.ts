import type { Tx } from '../core/tx.ts'

/*
 * What a mempool entry costs in memory, estimated from its parts (as Bitcoin
 * Core's DynamicMemoryUsage sums its allocations). Sizes are V8's on 64-bit
 * Node 24 (no pointer compression), measured with heap snapshots and heap
 * totals after a full collection (bench/mempool.ts); hash tables are counted
 * at their average load.
 */

/**
 * Per transaction: the pool entry (its fields, fee bigint, parent and child
 * arrays), its slots in the pool's maps (by id, by fingerprint) and in the two
 * indexes; the Tx object, its decoded object with the input and output
 * arrays, its id string, digest and cached sighash (each a typed array with its
 * buffer), and the arrays of input keys, input addresses and signature offsets.
 */
export const ENTRY_BYTES = 2_000
/**
 * Per input: its object and outpoint, three views into the bytes (spent id,
 * public key, signature), the outpoint key string and its slot in the spent-by
 * map, the hash160 of its key (a typed array with its buffer), array slots.
 */
export const INPUT_BYTES = 850
/** Per output: its object, the amount's bigint, a view of the address, an array slot. */
export const OUTPUT_BYTES = 200
/** The bytes' own buffer: allocator header and rounding. */
export const BUFFER_OVERHEAD_BYTES = 16

/** The estimated memory of a mempool entry holding `tx` (with bytes of its own). */
export function entryUsage (tx: Tx): number {
  return ENTRY_BYTES + INPUT_BYTES * tx.data.inputs.length + OUTPUT_BYTES * tx.data.outputs.length + tx.bytes.length + BUFFER_OVERHEAD_BYTES
}
