// The ES module face of the package: the same CommonJS instances (no dual-package hazard), plus a
// default export that is the strategy itself, as `import SamsaraStrategy from 'passport-samsara'` expects.
import cjs from './index.js';

export * from './index.js';
export default cjs.SamsaraStrategy;
