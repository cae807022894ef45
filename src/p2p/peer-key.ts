import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { CointsError } from '../core/errors.ts'
import { writeFileAtomic } from '../util/atomic-file.ts'

export const PEER_KEY_FILE = 'peer.key'

/**
 * The node's libp2p key, created once and kept in the datadir so its PeerId
 * survives restarts. A damaged key file is an error, never silently replaced:
 * peers and bootstrap lists know this node by it.
 */
export async function loadOrCreatePeerKey (datadir: string): Promise<PrivateKey> {
  const path = join(datadir, PEER_KEY_FILE)
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CointsError('PEER_KEY_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`)
    const key = await generateKeyPair('Ed25519')
    await writeFileAtomic(path, privateKeyToProtobuf(key), 0o600)
    return key
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new CointsError('CORRUPT_PEER_KEY', `${path} does not hold a libp2p private key (${(err as Error).message}); move it away to make a new identity`)
  }
}
