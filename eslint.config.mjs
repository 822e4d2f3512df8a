// Lint: typescript-eslint's strict, type-aware rules over the package, its tests, the example and
// the benchmarks. Formatting is Prettier's (npm run format:check), so no style rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'test-results/', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.json', './tsconfig.dev.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers in messages (`within ${timeout} ms`) are what messages are made of.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `() => void promise` and `(x) => done(x)` shorthands are clear as they are.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Store methods implement a Promise-returning contract; some have nothing to await.
      '@typescript-eslint/require-await': 'off',
      // Parameters declared for passport's arity rule (`_done`) are unused on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // `declare global { namespace Express { ... } }` is how Express's Request is augmented.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
    },
  },
  // Who may import whom, type imports included: the token layer nothing above it, and nothing but
  // the emulator the emulator. `npm run check:circles` keeps the whole graph free of circles.
  {
    files: ['lib/tokens/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../express.js', '../strategy*.js', '../sign-out.js', '../api*.js', '../sdk.js'],
              message: 'The token layer knows nothing above it: take a narrow interface instead.',
            },
            {
              group: ['../app/*', '../webhooks/*', '../testing/*'],
              message: 'The token layer knows nothing above it: take a narrow interface instead.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['lib/**/*.ts'],
    ignores: ['lib/testing/**', 'lib/tokens/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/testing/*', './testing/*'],
              message: 'Production code does not depend on the test kit (shared constants live in lib/).',
            },
          ],
        },
      ],
    },
  },
  {
    // The published contract (passport-samsara/store) is tests: `!` and `?.` on values it has
    // just asserted (node:assert narrows some, not all).
    files: ['lib/store/contract-*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // chai's `expect(x).to.be.true` style and `!` on values a test has just asserted.
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Variables a before() hook assigns are typed as set, yet are unset when the hook failed:
      // the after() hooks' `?.` is deliberate.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // `delete process.env[name]` restores the environment a test changed.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // A fake clock's methods are passed around unbound (they are arrow functions); response
      // bodies are `any` as they come; `require()` reaches the very CommonJS object a spy watches;
      // a relayed abort or child-process failure is rejected with the reason it came with.
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'off',
      // supertest's `res.body` is `any`: tests read it to assert on it.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
);
