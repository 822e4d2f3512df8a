import { expect } from 'chai';
import { channel } from 'node:diagnostics_channel';
import { SAMSARA_CHANNELS } from 'passport-samsara';
import { syncProgress } from '../example/progress.js';

// The sync's progress on a terminal: one bar redrawn in place, log lines above it, the waits
// heard on the rate-limit channel. (Off a terminal: example.sync.test.ts.)

const publish = (name: string, message: object): void => channel(name).publish(message);

describe('example/progress.ts: the progress of npm run sync', () => {
  it('on a terminal, redraws one bar in place with organizations done, vehicles per second and waits', () => {
    let written = '';
    const out = { isTTY: true, write: (chunk: string) => ((written += chunk), true) } as unknown as NodeJS.WriteStream;
    const progress = syncProgress(out, 4);
    publish(SAMSARA_CHANNELS.rateLimit, { orgId: '1001', outcome: 'paced', durationMs: 400, retryAfter: 0 });
    publish(SAMSARA_CHANNELS.rateLimit, { orgId: '1001', outcome: 'waiting', durationMs: 750, retryAfter: 0.75 });
    publish(SAMSARA_CHANNELS.rateLimit, { orgId: '1001', outcome: 'gave-up', durationMs: 0, retryAfter: 9 });
    progress.vehicles(250);
    progress.organizationDone();
    progress.log('✓ 1001: 250 vehicles');
    progress.stop();
    publish(SAMSARA_CHANNELS.rateLimit, { orgId: '1001', outcome: 'paced', durationMs: 400, retryAfter: 0 });
    const frames = written.split('\r\x1b[2K').filter(Boolean);
    expect(frames[0]).to.match(/^\[#{6}-{18}\] 1 of 4 organizations, \d+ vehicles\/s, 2 waits \(1\.1 s\)$/);
    expect(frames).to.include('✓ 1001: 250 vehicles\n');
    expect(frames.at(-1), 'the last frame ends the line; waits after stop() are not heard').to.match(
      /^\[#{6}-{18}\] 1 of 4 organizations, .*2 waits \(1\.1 s\)\n$/,
    );
    expect(written).to.not.include('\n\n');
  });
});
