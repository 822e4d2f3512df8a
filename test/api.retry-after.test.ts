import { expect } from 'chai';
// An internal, which the package does not export: from its source.
import { parseRetryAfter } from '../lib/retry-after.js';

describe('Retry-After parsing', () => {
  const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT');

  it('reads delta-seconds as a decimal, fractions included (Samsara sends 0.40235)', () => {
    expect(parseRetryAfter('0.40235')).to.equal(0.40235);
    expect(parseRetryAfter('3')).to.equal(3);
    expect(parseRetryAfter(' 1.5 ')).to.equal(1.5);
    expect(parseRetryAfter('0')).to.equal(0);
  });

  it('reads an HTTP-date as the seconds left until then, in any of its three forms', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:39 GMT', now)).to.equal(2);
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:40 GMT', now)).to.equal(3);
    expect(parseRetryAfter('Sun Nov  6 08:49:41 1994', now)).to.be.a('number');
  });

  it('takes a date in the past as no wait', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:30 GMT', now)).to.equal(0);
  });

  it('takes an absent or unreadable value as 1 s', () => {
    for (const value of [null, '', 'soon', '-1', '1e3', '2 minutes', 'NaN', 'Infinity', '0x10', 'soon 3']) {
      expect(parseRetryAfter(value), String(value)).to.equal(1);
    }
  });
});
