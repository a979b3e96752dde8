/** The two small CLI helpers that need no process: TTY-only progress and the SSE reader. */
import { describe, expect, it } from 'vitest';
import { startProgress } from '../../src/cli/progress.js';
import { readSse } from '../../src/cli/sse.js';

describe('startProgress', () => {
  it('draws one rewritten line on a TTY and writes nothing when piped', () => {
    const tty = {
      isTTY: true,
      columns: 80,
      text: '',
      write(t: string) {
        this.text += t;
      },
    };
    const progress = startProgress('recover', 2, tty);
    progress.tick('first');
    progress.tick('second');
    progress.stop();
    expect(tty.text).toContain('\r\x1b[2Krecover [2/2] second');
    expect(tty.text.endsWith('\r\x1b[2K')).toBe(true);

    const piped = {
      isTTY: false,
      text: '',
      write(t: string) {
        this.text += t;
      },
    };
    const quiet = startProgress('recover', 2, piped);
    quiet.tick('first');
    quiet.stop();
    expect(piped.text).toBe('');
  });
});

describe('readSse', () => {
  it('frames messages across chunks, joins data lines, skips comments', async () => {
    async function* chunks() {
      yield 'retry: 1000\n: hello\n\nid: e1\nevent: ev';
      yield 'ent\ndata: {"a":\ndata: 1}\n\n: heartbeat\n\r\nid: e2\r\nevent: event\r\ndata: x\r\n\r\n';
    }
    const messages = [];
    for await (const m of readSse(chunks())) messages.push(m);
    expect(messages).toEqual([
      { id: 'e1', event: 'event', data: '{"a":\n1}' },
      { id: 'e2', event: 'event', data: 'x' },
    ]);
  });
});
