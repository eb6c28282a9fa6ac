import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { barFraction, binAt, logTicks, niceTicks } from '../../webview/scale';
import { INITIAL_STATE, parseState } from '../../webview/state';

test('nice ticks are round numbers inside the range', () => {
  assert.deepEqual(niceTicks(-0.7105, 0.7088, 6), [-0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6]);
  assert.deepEqual(niceTicks(0, 4096, 4), [0, 1000, 2000, 3000, 4000]);
  assert.deepEqual(niceTicks(0.1, 0.35, 5), [0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
  assert.deepEqual(niceTicks(1, 1, 4), []);
  assert.deepEqual(niceTicks(0, NaN, 4), []);
});

test('log ticks are powers of ten up to the maximum, thinned to the target', () => {
  assert.deepEqual(logTicks(5000, 4), [1, 10, 100, 1000]);
  assert.deepEqual(logTicks(2_000_000, 3), [1, 1000, 1_000_000]);
  assert.deepEqual(logTicks(0, 4), []);
});

test('bar heights on linear and log(1 + count) axes', () => {
  assert.equal(barFraction(50, 100, false), 0.5);
  assert.equal(barFraction(0, 100, true), 0);
  assert.equal(barFraction(100, 100, true), 1);
  assert.ok(Math.abs(barFraction(9, 99, true) - 0.5) < 1e-12);
  assert.equal(barFraction(5, 0, false), 0);
});

test('positions map to bins; outside the plot is no bin', () => {
  assert.equal(binAt(0, 512, 256), 0);
  assert.equal(binAt(511.9, 512, 256), 255);
  assert.equal(binAt(3, 512, 256), 1);
  assert.equal(binAt(-1, 512, 256), null);
  assert.equal(binAt(512, 512, 256), null);
});

test('saved state is taken field by field; malformed fields fall back to defaults', () => {
  assert.deepEqual(parseState(undefined), INITIAL_STATE);
  assert.deepEqual(
    parseState({
      sort: { column: 'sparsity', descending: true },
      filter: 'conv',
      selected: { layer: 'conv1', tensor: 'conv1.weight' },
      log: true,
      fullRange: true,
      scrollTop: 480,
      summaryCollapsed: true,
    }),
    {
      ...INITIAL_STATE,
      sort: { column: 'sparsity', descending: true },
      filter: 'conv',
      selected: { layer: 'conv1', tensor: 'conv1.weight' },
      log: true,
      fullRange: true,
      scrollTop: 480,
      summaryCollapsed: true,
    },
  );
  assert.deepEqual(
    parseState({
      sort: { column: 'nope', descending: true },
      filter: 3,
      selected: { layer: 1 },
      scrollTop: -5,
      fullRange: 'yes',
    }),
    INITIAL_STATE,
  );
});
