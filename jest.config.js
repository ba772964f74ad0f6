const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

// JupyterLab and Lumino ship ES modules: let babel transform them for jest.
const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyterlab/',
  '@lumino/',
  '@microsoft/',
  'exenv-es6',
  'lib0',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  collectCoverageFrom: [
    'src/**/*.{ts,tsx}',
    '!src/**/*.d.ts',
    '!src/**/.ipynb_checkpoints/*'
  ],
  coverageReporters: ['lcov', 'text-summary'],
  // Built copies of package.json (labextension, the venv's JupyterLab) would
  // collide with ours in jest's module map.
  modulePathIgnorePatterns: [
    '<rootDir>/jupyter_mlops/',
    '<rootDir>/.venv/',
    '<rootDir>/lib/'
  ],
  testRegex: 'src/__tests__/.*\\.spec\\.tsx?$',
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};
