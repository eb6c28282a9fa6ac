/** WireReader.fields(): the one walk over a protobuf message's fields that the readers share. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidModelError } from '../../src/core/errors';
import { MemorySource } from '../../src/core/io/source';
import { WireReader } from '../../src/core/io/wire';

// Field 1 varint 300, field 2 fixed64, field 3 bytes "hi", field 4 fixed32, field 5 varint 7.
const MESSAGE = Uint8Array.from([
  0x08, 0xac, 0x02, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1a, 2, 0x68, 0x69, 0x25, 1, 2, 3, 4, 0x28, 7,
]);
const reader = (bytes = MESSAGE) => new WireReader(new MemorySource(bytes, 'test.pb'));

describe('WireReader.fields', () => {
  it('visits every field and skips the ones the visitor leaves unread, whatever their wire type', () => {
    const r = reader();
    const seen: [number, number][] = [];
    let text = '';
    let last = 0;
    assert.equal(
      r.fields(MESSAGE.length, (field, wt) => {
        seen.push([field, wt]);
        if (field === 3) text = r.string(r.length(MESSAGE.length));
        else if (field === 5) last = r.varint();
      }),
      true,
    );
    assert.deepEqual(seen, [
      [1, 0],
      [2, 1],
      [3, 2],
      [4, 5],
      [5, 0],
    ]);
    assert.equal(text, 'hi');
    assert.equal(last, 7);
    assert.equal(r.pos, MESSAGE.length);
  });

  it('stops where the visitor returns false, after what it read', () => {
    const r = reader();
    let value = 0;
    const whole = r.fields(MESSAGE.length, (field) => {
      if (field !== 1) return;
      value = r.varint();
      return false;
    });
    assert.equal(whole, false);
    assert.equal(value, 300);
    assert.equal(r.pos, 3);
  });

  it('keeps a skipped field inside its message', () => {
    // Field 3 claims 9 bytes where the message ends after 2.
    const bytes = Uint8Array.from([0x1a, 9, 0x68, 0x69, 0, 0, 0, 0, 0, 0, 0]);
    assert.throws(() => reader(bytes).fields(4, () => {}), InvalidModelError);
  });
});
