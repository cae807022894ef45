/** Worker thread: verifies packed signature checks with libsecp256k1 off the main event loop. */
import { parentPort } from 'node:worker_threads'
import { verifySignature } from '../core/keys.ts'
import { CHECK_BYTES, unpackCheck } from './sig-pack.ts'

// The first message tells the pool this worker is loaded and ready.
parentPort?.postMessage('ready')
parentPort?.on('message', (msg: { id: number, packed: Uint8Array }) => {
  const count = msg.packed.length / CHECK_BYTES
  let failed = -1
  for (let i = 0; i < count; i++) {
    const { msg: m, pubkey, sig } = unpackCheck(msg.packed, i)
    if (!verifySignature(sig, m, pubkey)) { failed = i; break }
  }
  parentPort?.postMessage({ id: msg.id, failed })
})
