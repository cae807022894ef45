import type { AmountText, MethodDoc } from './types.ts'

export interface BalanceView { confirmed: AmountText, unconfirmed: AmountText, immature: AmountText }

export interface WalletInfoView {
  exists: boolean
  network: string
  locked: boolean
  /** Seconds since the epoch; 0 when locked. */
  unlocked_until: number
  receive_index: number
  change_index: number
  birth_height: number | null
  txcount: number
  /** As Bitcoin Core's (progress 0..1, duration in seconds), with the heights; false when no scan runs. */
  scanning: false | { height: number, tip: number, progress: number, duration: number }
  lastprocessedblock: { hash: string, height: number } | null
  scan_error: { code: string, message: string } | null
}

export interface UnspentView {
  txid: string
  index: number
  address: string
  amount: AmountText
  confirmations: number
  state: 'confirmed' | 'unconfirmed' | 'immature'
  coinbase: boolean
}

export type WalletTxCategory = 'send' | 'receive' | 'generate' | 'immature'

/** listtransactions: the net amount to the wallet (fee included) and the fee when the wallet paid it. */
export interface WalletTxRow {
  txid: string
  category: WalletTxCategory
  amount: AmountText
  fee: AmountText | null
  confirmations: number
  height: number | null
  time: number
}

/** One output in gettransaction's details: sends to others (negative, with the fee) and receipts. */
export interface WalletTxDetail {
  address: string
  category: WalletTxCategory
  amount: AmountText
  vout: number
  fee?: AmountText
}

/** gettransaction, as Bitcoin Core's: amount without the fee, the fee negative (when the wallet paid it). */
export interface WalletTransactionView {
  amount: AmountText
  fee?: AmountText
  confirmations: number
  generated?: true
  blockhash?: string
  blockheight?: number
  blockindex?: number | null
  blocktime?: number
  txid: string
  time: number
  timereceived: number
  details: WalletTxDetail[]
  hex: string
}

/** What each wallet method answers. */
export interface WalletResults {
  createwallet: { mnemonic: string, address: string }
  restorewallet: { balance: BalanceView, txcount: number }
  getwalletinfo: WalletInfoView
  getnewaddress: string
  getbalance: BalanceView
  listunspent: UnspentView[]
  sendtoaddress: string
  listtransactions: WalletTxRow[]
  walletpassphrase: null
  gettransaction: WalletTransactionView
  backupwallet: null
  walletpassphrasechange: null
  walletlock: null
}

/** Wallet methods; amounts are decimal strings of coins both ways. */
export const WALLET_METHODS = {
  createwallet: {
    description: 'Creates this node\'s wallet, encrypted under the passphrase; returns its mnemonic (write it down) and a first address. bip39passphrase: an optional BIP39 passphrase (the "25th word"), needed with the mnemonic to restore.',
    params: [{ name: 'passphrase', type: 'string' }, { name: 'bip39passphrase', type: 'string', optional: true }]
  },
  restorewallet: {
    description: 'Recreates the wallet from a BIP39 mnemonic (and its BIP39 passphrase, if it had one), encrypted under the passphrase, and rescans the chain for its coins.',
    params: [{ name: 'mnemonic', type: 'string' }, { name: 'passphrase', type: 'string' }, { name: 'bip39passphrase', type: 'string', optional: true }]
  },
  getwalletinfo: {
    description: 'Whether a wallet exists and is locked, its address indexes and transaction count, the block it has scanned up to (lastprocessedblock), its scan under way (scanning: {height, tip, progress, duration}, or false) and why its last scan stopped short (scan_error).',
    params: []
  },
  getnewaddress: {
    description: 'A fresh receiving address.',
    params: []
  },
  getbalance: {
    description: 'Balances: {confirmed, unconfirmed, immature} (immature: coinbase not yet spendable). While the wallet catches up with the chain it waits briefly, then answers WALLET_SCANNING (RPC code -28, try again); never a balance of a partial scan.',
    params: []
  },
  listunspent: {
    description: 'The wallet\'s unspent outputs.',
    params: []
  },
  sendtoaddress: {
    description: 'Pays an amount (decimal coins) to an address, at a fee rate in base units per byte (default from config); returns the txid. Needs the wallet unlocked.',
    params: [{ name: 'address', type: 'string' }, { name: 'amount', type: 'amount' }, { name: 'feerate', type: 'integer', optional: true, min: 1 }]
  },
  listtransactions: {
    description: 'Wallet transactions, newest first: {txid, category, amount, fee, confirmations, height, time}.',
    params: []
  },
  walletpassphrase: {
    description: 'Unlocks the wallet\'s keys for a number of seconds.',
    params: [{ name: 'passphrase', type: 'string' }, { name: 'seconds', type: 'integer', min: 1, max: 86_400 }]
  },
  gettransaction: {
    description: 'A wallet transaction, as Bitcoin Core\'s: {amount (without the fee), fee (negative; when the wallet paid it), confirmations, generated (coinbase), blockhash, blockheight, blockindex, blocktime, txid, time, timereceived, details: [{address, category, amount, vout, fee}], hex}; amounts are decimal strings.',
    params: [{ name: 'txid', type: 'string', max: 200 }]
  },
  backupwallet: {
    description: 'Writes a copy of the wallet file (encrypted seed, public key and address indexes) to an absolute path on the node\'s machine; a directory gets wallet.json inside.',
    params: [{ name: 'destination', type: 'string', max: 4_096 }]
  },
  walletpassphrasechange: {
    description: 'Encrypts the wallet under a new passphrase; the old one must be right.',
    params: [{ name: 'oldpassphrase', type: 'string' }, { name: 'newpassphrase', type: 'string' }]
  },
  walletlock: {
    description: 'Forgets the unlocked keys now.',
    params: []
  }
} as const satisfies Record<keyof WalletResults, MethodDoc>
