/**
 * V8 flags a node process runs with (bin/coints.js and `npm start` pass the same).
 * 1 MB semi-spaces keep the young generation from growing to 16 MB × 3 after the
 * start-up burst: an idle node's resident memory drops by about 60 MB.
 */
export const NODE_RUNTIME_FLAGS = ['--max-semi-space-size=1', '--optimize-for-size']
