import { formatAmount } from '../../core/amount.ts'
import { CointsError } from '../../core/errors.ts'
import type { Wallet } from '../../wallet/wallet.ts'
import type { MethodTable } from './types.ts'

/** Wallet methods; amounts are decimal strings of coins both ways. */
export function walletMethods (wallet: Wallet): MethodTable {
  const balance = async (): Promise<Record<string, string>> => {
    const b = await wallet.balance()
    return { confirmed: formatAmount(b.confirmed), unconfirmed: formatAmount(b.unconfirmed), immature: formatAmount(b.immature) }
  }
  return {
    createwallet: {
      description: 'Creates this node\'s wallet, encrypted under the passphrase; returns its mnemonic (write it down) and a first address. bip39passphrase: an optional BIP39 passphrase (the "25th word"), needed with the mnemonic to restore.',
      params: [{ name: 'passphrase', type: 'string' }, { name: 'bip39passphrase', type: 'string', optional: true }],
      handler: async ({ passphrase, bip39passphrase }) => {
        const mnemonic = await wallet.create(passphrase as string, bip39passphrase as string | undefined)
        return { mnemonic, address: (await wallet.newAddress()).address }
      }
    },
    restorewallet: {
      description: 'Recreates the wallet from a BIP39 mnemonic (and its BIP39 passphrase, if it had one), encrypted under the passphrase, and rescans the chain for its coins.',
      params: [{ name: 'mnemonic', type: 'string' }, { name: 'passphrase', type: 'string' }, { name: 'bip39passphrase', type: 'string', optional: true }],
      handler: async ({ mnemonic, passphrase, bip39passphrase }) => {
        await wallet.restore(mnemonic as string, passphrase as string, bip39passphrase as string | undefined)
        return { balance: await balance(), txcount: (await wallet.transactions()).length }
      }
    },
    getwalletinfo: {
      description: 'Whether a wallet exists and is locked, its address indexes and transaction count, the block it has scanned up to (lastprocessedblock), its scan under way (scanning: {height, tip, progress, duration}, or false) and why its last scan stopped short (scan_error).',
      params: [],
      handler: async () => wallet.info()
    },
    getnewaddress: {
      description: 'A fresh receiving address.',
      params: [],
      handler: async () => (await wallet.newAddress()).address
    },
    getbalance: {
      description: 'Balances: {confirmed, unconfirmed, immature} (immature: coinbase not yet spendable). While the wallet catches up with the chain it waits briefly, then answers WALLET_SCANNING (RPC code -28, try again); never a balance of a partial scan.',
      params: [],
      handler: async () => await balance()
    },
    listunspent: {
      description: 'The wallet\'s unspent outputs.',
      params: [],
      handler: async () => (await wallet.coins()).map(c => ({
        txid: c.tx.idString,
        index: c.index,
        address: c.owner.address,
        amount: formatAmount(c.amount),
        confirmations: c.height === null ? 0 : wallet.tipHeight - c.height + 1,
        state: c.state,
        coinbase: c.coinbase
      }))
    },
    sendtoaddress: {
      description: 'Pays an amount (decimal coins) to an address, at a fee rate in base units per byte (default from config); returns the txid. Needs the wallet unlocked.',
      params: [{ name: 'address', type: 'string' }, { name: 'amount', type: 'amount' }, { name: 'feerate', type: 'integer', optional: true, min: 1 }],
      handler: async ({ address, amount, feerate }) => await wallet.send(address as string, amount as bigint, feerate as number | undefined)
    },
    listtransactions: {
      description: 'Wallet transactions, newest first: {txid, category, amount, fee, confirmations, height, time}.',
      params: [],
      handler: async () => await wallet.transactions()
    },
    walletpassphrase: {
      description: 'Unlocks the wallet\'s keys for a number of seconds.',
      params: [{ name: 'passphrase', type: 'string' }, { name: 'seconds', type: 'integer', min: 1, max: 86_400 }],
      handler: async ({ passphrase, seconds }) => {
        await wallet.unlock(passphrase as string, seconds as number)
        return null
      }
    },
    gettransaction: {
      description: 'A wallet transaction, as Bitcoin Core\'s: {amount (without the fee), fee (negative; when the wallet paid it), confirmations, generated (coinbase), blockhash, blockheight, blockindex, blocktime, txid, time, timereceived, details: [{address, category, amount, vout, fee}], hex}; amounts are decimal strings.',
      params: [{ name: 'txid', type: 'string', max: 200 }],
      handler: async ({ txid }) => {
        const tx = await wallet.transaction(txid as string)
        if (tx === undefined) throw new CointsError('NOT_FOUND', `transaction ${String(txid)} is not the wallet's`)
        return tx
      }
    },
    backupwallet: {
      description: 'Writes a copy of the wallet file (encrypted seed, public key and address indexes) to an absolute path on the node\'s machine; a directory gets wallet.json inside.',
      params: [{ name: 'destination', type: 'string', max: 4_096 }],
      handler: async ({ destination }) => {
        await wallet.backup(destination as string)
        return null
      }
    },
    walletpassphrasechange: {
      description: 'Encrypts the wallet under a new passphrase; the old one must be right.',
      params: [{ name: 'oldpassphrase', type: 'string' }, { name: 'newpassphrase', type: 'string' }],
      handler: async ({ oldpassphrase, newpassphrase }) => {
        await wallet.changePassphrase(oldpassphrase as string, newpassphrase as string)
        return null
      }
    },
    walletlock: {
      description: 'Forgets the unlocked keys now.',
      params: [],
      handler: async () => {
        wallet.lock()
        return null
      }
    }
  }
}
