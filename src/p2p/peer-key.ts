import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { CointsError } from '../core/errors.ts'
import { writeFileAtomic } from '../util/atomic-file.ts'
import type { Startable } from '../util/startable.ts'

export const PEER_KEY_FILE = 'peer.key'

/**
 * The node's libp2p key, created once and kept in the datadir so its PeerId
 * survives restarts. A damaged key file is an error, never silently replaced:
 * peers and bootstrap lists know this node by it. It is read before libp2p is
 * created (which takes the key) and a new one written at start: building a
 * node writes nothing, so a start refused first (a port in use) leaves the
 * datadir as it was.
 */
export class PeerKeyFile implements Startable {
  readonly key: PrivateKey
  readonly #path: string
  #unsaved: boolean

  private constructor (key: PrivateKey, path: string, unsaved: boolean) {
    this.key = key
    this.#path = path
    this.#unsaved = unsaved
  }

  /** The datadir's key, or a new one when it has none (nor perhaps a datadir yet: the start makes it before this writes). */
  static async load (datadir: string): Promise<PeerKeyFile> {
    const path = join(datadir, PEER_KEY_FILE)
    let bytes: Uint8Array
    try {
      bytes = await readFile(path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new CointsError('PEER_KEY_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`)
      return new PeerKeyFile(await generateKeyPair('Ed25519'), path, true)
    }
    try {
      return new PeerKeyFile(privateKeyFromProtobuf(bytes), path, false)
    } catch (err) {
      throw new CointsError('CORRUPT_PEER_KEY', `${path} does not hold a libp2p private key (${(err as Error).message}); move it away to make a new identity`)
    }
  }

  /** Writes a new key, once. */
  async start (): Promise<void> {
    if (!this.#unsaved) return
    await writeFileAtomic(this.#path, privateKeyToProtobuf(this.key), 0o600)
    this.#unsaved = false
  }

  async stop (): Promise<void> {}
}
