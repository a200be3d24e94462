// ESLint flat config: eslint's and typescript-eslint's recommended rules (syntax only, no type
// information, so it runs in seconds without a build), over every package, script and example.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', '**/node_modules/', '**/src/gen/', 'native/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // a leading _ marks a parameter a port's signature requires but this implementation ignores
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', exports: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
