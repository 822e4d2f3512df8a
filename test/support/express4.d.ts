// The npm alias `express4` (npm:express@^4.21.0) is Express 4; @types/express (5) describes it
// closely enough for what the tests build with it (an app, routes, middleware, listen).
declare module 'express4' {
  import express from 'express';
  export default express;
}
