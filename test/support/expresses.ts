import express from 'express';
import express4 from 'express4';

/** A function that makes an Express app: Express 5 (`express`) or Express 4 (the `express4` alias). */
export type ExpressFactory = typeof express;

/**
 * The Express majors the package supports, for a suite to run once on each. The version is read
 * from the package itself, so a broken alias cannot pass as Express 4.
 */
export const EXPRESSES: ReadonlyArray<{ name: string; express: ExpressFactory }> = [
  { name: `Express ${version('express')}`, express },
  { name: `Express ${version('express4')}`, express: express4 },
];

function version(name: string): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}
