import tseslint from 'typescript-eslint'

/**
 * The layers, lowest first, as docs/architecture.md states them ("Layers"). A
 * file imports from its own folder and from lower levels, never from a higher
 * level nor from another folder of its own level: services of one level meet in
 * the node, which wires them. bench/ stands beside cli; test/ imports anything.
 * test/lint-layers.test.ts checks this table against the docs and plants
 * imports that must be reported.
 */
const LAYERS = [
  ['util', 'core', 'log.ts'],
  ['chain'],
  ['miner', 'p2p', 'wallet', 'index', 'ipfs'],
  ['rpc', 'http'],
  ['node'],
  ['swarm'],
  ['cli', 'bench']
]

const filesOf = name => name === 'bench' ? 'bench/**' : name.endsWith('.ts') ? `src/${name}` : `src/${name}/**`
/** How a relative import names that layer: a path through its folder, or the file itself. */
const pathOf = name => name.endsWith('.ts') ? `${name.replaceAll('.', '\\.')}$` : `${name}/`

/**
 * One block per layer: `no-restricted-imports` sees import (type imports too),
 * export-from and import-equals; `no-restricted-syntax` sees import(). Only
 * relative specifiers match, so a package's path never does.
 */
const layerBlocks = LAYERS.flatMap((level, n) => level.map(name => {
  const below = LAYERS.slice(0, n).flat()
  const barred = LAYERS.flat().filter(other => other !== name && !below.includes(other))
  const regex = `^\\.\\.?/(?:.*/)?(?:${barred.map(pathOf).join('|')})`
  const message = `${name} imports only from ${below.length === 0 ? 'itself' : `itself and ${below.join(', ')}`} (layers in docs/architecture.md)`
  return {
    files: [filesOf(name)],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex, caseSensitive: true, message }] }],
      'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\/')}/]`, message: `import() across the layers: ${message}` }]
    }
  }
}))

export default tseslint.config(
  { ignores: ['node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      eqeqeq: ['error', 'always']
    }
  },
  ...layerBlocks
)
