import { makeRpcAuth } from '../../rpc/auth.ts'
import { helpText, parseFlags, UsageError, type Command } from '../command.ts'

const flags = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const

export const rpcauthCommand: Command = {
  name: 'rpcauth',
  summary: 'Makes a salted RPC credential, as Bitcoin Core\'s share/rpcauth: the --rpc-auth line for the node (it keeps no password) and a random password for the user\'s clients (shown only now).',
  usage: 'coints rpcauth USER [--json]',
  flags: [['--json', 'print {user, rpcauth, password} as JSON']],
  async run (argv) {
    const { values, positionals } = parseFlags(this, argv, flags, true)
    if (values.help === true) {
      console.log(helpText(this))
      return 0
    }
    const [user, ...extra] = positionals
    if (user === undefined || extra.length > 0) throw new UsageError('BAD_FLAGS', 'usage: coints rpcauth USER')
    const { line, password } = makeRpcAuth(user)
    console.log(values.json === true
      ? JSON.stringify({ user, rpcauth: line, password })
      : `for the node:      --rpc-auth '${line}'   (in a config file: "rpc-auth": ["${line}"])\nfor its clients:   --rpc-user ${user}, password ${password}`)
    return 0
  }
}
