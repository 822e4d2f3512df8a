import { expect } from 'chai';

// The root's runtime names, counted as a consumer sees them (the built entry, aliases included):
// issue 18 caps them at 24, so a topic's other names go to its subpath instead.
const MAX_ROOT_NAMES = 24;
const SUBPATHS = ['errors', 'rate-limit', 'webhooks', 'store'] as const;

/** The package's entry `subpath` (the root for ''), through its own `exports` map. */
function entry(subpath: string): Record<string, unknown> {
  return require(subpath ? `passport-samsara/${subpath}` : 'passport-samsara') as Record<string, unknown>;
}

describe('the package surface', () => {
  it(`has at most ${MAX_ROOT_NAMES} runtime names at the root, aliases counted`, () => {
    const names = Object.keys(entry(''));
    expect(names.length, names.join(', ')).to.be.at.most(MAX_ROOT_NAMES);
  });

  it('keeps the deprecated aliases the same values as what they name', () => {
    const root = entry('');
    expect(root['Strategy']).to.equal(root['SamsaraStrategy']);
    expect(root['default']).to.equal(root['SamsaraStrategy']);
    expect(root['samsaraLogout']).to.be.a('function');
  });

  for (const subpath of SUBPATHS) {
    it(`passport-samsara/${subpath} shares every name it has with the root as the same value`, () => {
      const root = entry('');
      const sub = entry(subpath);
      expect(Object.keys(sub)).to.not.be.empty;
      for (const [name, value] of Object.entries(sub)) {
        if (name in root) expect(root[name], name).to.equal(value);
      }
    });
  }

  it('passport-samsara/errors has every error the package raises, each a SamsaraError', () => {
    const errors = entry('errors');
    const SamsaraError = errors['SamsaraError'] as new (...args: never[]) => Error;
    const classes = Object.entries(errors).filter(([name]) => name !== 'SamsaraError');
    expect(classes.map(([name]) => name)).to.include.members([
      'ConfigurationError',
      'StoreUnavailableError',
      'RateLimitedError',
      'WebhookVerificationError',
    ]);
    for (const [name, value] of classes) {
      expect(name).to.match(/Error$/);
      expect((value as { prototype: unknown }).prototype, name).to.be.an.instanceOf(SamsaraError);
    }
  });
});
