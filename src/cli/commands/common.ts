import { readFile } from 'node:fs/promises'
import { getNetwork, NETWORK_NAMES, type NetworkName } from '../../core/params.ts'
import { defaultDatadir } from '../../node/options.ts'
import { rpcPortOf, type RpcTarget } from '../../rpc/client.ts'
import { intFlag, UsageError } from '../command.ts'
import { readSecret } from '../prompt.ts'

/** Flags every command that talks to a node shares. */
export const targetFlags = {
  network: { type: 'string' },
  datadir: { type: 'string' },
  config: { type: 'string' },
  'rpc-port': { type: 'string' },
  'rpc-connect': { type: 'string' },
  'rpc-user': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

export const targetFlagHelp: Array<[string, string]> = [
  ['--network regtest|lan', 'network (default lan)'],
  ['--datadir DIR', 'the node\'s data directory (default ~/.coints/<network>)'],
  ['--config FILE', 'the node\'s config file: its network, datadir and rpc-port'],
  ['--rpc-port N', 'the node\'s RPC port (default: the one the node wrote in its datadir, else the network\'s)'],
  ['--rpc-connect HOST', 'a node on another machine (with --rpc-user; default 127.0.0.1 with the datadir\'s cookie)'],
  ['--rpc-user USER', 'an --rpc-auth user of the node; its password from COINTS_RPC_PASSWORD or the terminal']
]

export function networkOf (value: unknown): NetworkName {
  const name = value ?? 'lan'
  if (typeof name !== 'string' || !(NETWORK_NAMES as readonly string[]).includes(name)) {
    throw new UsageError('BAD_FLAGS', `--network must be one of ${NETWORK_NAMES.join(', ')}, got ${JSON.stringify(name)}`)
  }
  return name as NetworkName
}

function stringOf (key: string, value: unknown): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw new UsageError('BAD_CONFIG', `${key} must be a string`)
  return value
}

/**
 * Where the node is, from flags, then the config file (--config), then what the
 * node wrote in its datadir (the RPC port beside the cookie), then defaults.
 */
export async function rpcTargetOf (values: Record<string, unknown>): Promise<RpcTarget> {
  const config = typeof values.config === 'string' ? await readConfig(values.config) : {}
  const pick = (key: string): unknown => values[key] ?? config[key]
  const network = networkOf(pick('network'))
  const datadir = stringOf('datadir', pick('datadir')) ?? defaultDatadir(network)
  const host = stringOf('rpc-connect', values['rpc-connect'])
  const user = stringOf('rpc-user', values['rpc-user'])
  if (host !== undefined && user === undefined) throw new UsageError('BAD_FLAGS', '--rpc-connect needs --rpc-user: the cookie never leaves the node\'s machine')
  const given = intFlag('rpc-port', pick('rpc-port'), 1, 65_535)
  const port = given ?? (host === undefined ? await rpcPortOf(datadir) : undefined) ?? getNetwork(network).defaultRpcPort
  const auth = user === undefined
    ? undefined
    : { user, password: await readSecret({ question: `RPC password of ${user}@${host ?? '127.0.0.1'}: `, envVar: 'COINTS_RPC_PASSWORD', what: 'RPC password' }) }
  return { datadir, port, host, auth }
}

/** A JSON config file whose keys are the flags' names. */
export async function readConfig (path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new UsageError('BAD_CONFIG', `cannot read config file ${path}: ${(err as Error).message}`)
  }
  let config: unknown
  try {
    config = JSON.parse(text)
  } catch (err) {
    throw new UsageError('BAD_CONFIG', `config file ${path} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new UsageError('BAD_CONFIG', `config file ${path} must hold a JSON object`)
  return config as Record<string, unknown>
}
