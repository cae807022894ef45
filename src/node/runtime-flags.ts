import pkg from '../../package.json' with { type: 'json' }

/**
 * V8 flags a node process runs with, from package.json's config.nodeFlags: the
 * one list that `npm start`, `npm run bench`, bin/coints.js and spawned nodes share.
 * 1 MB semi-spaces keep the young generation from growing to 16 MB × 3 after the
 * start-up burst: an idle node's resident memory drops by about 25 MB. A heap
 * growing by 10 % between full collections (V8 lets it grow 1.1 to 4 times,
 * by its speed) keeps the garbage a full, evicting mempool leaves in the old
 * generation within --mempool-max-bytes × 1.5 of resident memory
 * (docs/performance.md, Mempool).
 */
export const NODE_RUNTIME_FLAGS: readonly string[] = pkg.config.nodeFlags.split(' ')
