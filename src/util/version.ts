import pkg from '../../package.json' with { type: 'json' }

/** coints's version, from package.json: `coints --version`, getnetworkinfo and the RPC help show it. */
export const VERSION: string = pkg.version

/** As Bitcoin Core's subversion (BIP14): `/coints:0.2.0/`. */
export const USER_AGENT = `/coints:${VERSION}/`
