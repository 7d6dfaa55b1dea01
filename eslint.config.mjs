import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import noOnlyTests from 'eslint-plugin-no-only-tests';

const noVscode = {
  'no-restricted-imports': ['error', {
    paths: [{ name: 'vscode', message: 'Pure code (pipeline, common, renderers, cli, batch) must not import vscode.' }],
  }],
};

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.cache/**', '.e2e/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'no-only-tests': noOnlyTests },
    rules: {
      curly: 'error',
      eqeqeq: ['error', 'always'],
      'no-throw-literal': 'error',
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-only-tests/no-only-tests': 'error',
    },
  },
  // Renderers and their tests type-check under the DOM project, which projectService does not find.
  {
    files: ['src/renderers/**/*.ts', 'test/unit/renderers/**/*.ts'],
    languageOptions: { parserOptions: { projectService: false, project: ['./tsconfig.renderers.json'], tsconfigRootDir: import.meta.dirname } },
  },
  { files: ['src/pipeline/**/*.ts', 'src/common/**/*.ts', 'src/renderers/**/*.ts', 'src/cli/**/*.ts', 'src/batch/**/*.ts'], rules: noVscode },
  { files: ['**/*.mjs', '**/*.js'], ...tseslint.configs.disableTypeChecked, languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly' } } },
);
