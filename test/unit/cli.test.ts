import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { KNOWN_WEIGHT } from '../fixtures/models';
import { distFile, fixturePath } from './helpers';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [distFile('cli.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('model-lens CLI', () => {
  it('inspect --json prints the documented schema with exact statistics', () => {
    const r = cli('inspect', fixturePath('mlp.onnx'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.format, 'onnx');
    assert.equal(doc.parameters, 64 * 128 + 128 + 128 * 64 + 64 + 640 + 10);
    assert.ok(doc.fileBytes > 0);
    const known = doc.tensors.find((t: { name: string }) => t.name === KNOWN_WEIGHT.name);
    assert.deepEqual(
      [known.dtype, known.shape, known.count, known.min, known.max, known.zeros],
      ['float32', KNOWN_WEIGHT.dims, 640, KNOWN_WEIGHT.min, KNOWN_WEIGHT.max, 1],
    );
    assert.equal(known.histogram.counts.length, 256);
    assert.deepEqual(
      doc.layers.find((l: { name: string }) => l.name === 'fc_known/MatMul').tensors,
      [KNOWN_WEIGHT.name],
    );
  });

  it('inspect prints a readable table and honours --bins', () => {
    const r = cli('inspect', fixturePath('cnn.onnx'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /conv1\.weight\s+float32\s+\[8,3,3,3\]/);
    const j = JSON.parse(cli('inspect', fixturePath('cnn.onnx'), '--json', '--bins', '16').stdout);
    assert.equal(j.tensors[0].histogram.counts.length, 16);
  });

  it('reports a bad file in one line with exit code 1', () => {
    const r = cli('inspect', fixturePath('external/model.onnx.data'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^model-lens: .*model\.onnx\.data: .+\n$/);
    const missing = cli('inspect', fixturePath('nope.onnx'));
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `model-lens: ${fixturePath('nope.onnx')}: file not found\n`);
  });

  it('exits 2 on usage errors', () => {
    assert.equal(cli().code, 2);
    assert.equal(cli('inspect').code, 2);
    assert.equal(cli('inspect', 'a.onnx', '--bins', '0').code, 2);
    assert.equal(cli('frobnicate').code, 2);
    assert.equal(cli('--help').code, 0);
  });

  it('refuses channel removal where it cannot go, and its options without it, as usage errors', () => {
    const model = fixturePath('cnn.onnx');
    const refused: [string[], RegExp][] = [
      [['compress', model, '--method', 'int8,channels'], /channels comes first/],
      [
        ['compress', model, '--method', 'channels', '--amount', '0'],
        /--amount must be between 0 and 1/,
      ],
      [
        ['compress', model, '--method', 'int8', '--amount', '0.5'],
        /--amount goes with --method channels or lowrank/,
      ],
      [
        ['compress', model, '--method', 'channels', '--importance', 'gamma'],
        /--importance is l2, bn or activation/,
      ],
      [
        ['compress', model, '--method', 'channels', '--target-cosine', '0.99'],
        /do not combine yet/,
      ],
      [['sensitivity', model, '--method', 'channels'], /channel removal changes the graph/],
    ];
    for (const [args, message] of refused) {
      const r = cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });

  it('takes --value wherever input options go, as a usage error when malformed', () => {
    const mlp = fixturePath('mlp.onnx');
    for (const bad of ['sr', 'sr=', 'sr=fast']) {
      const r = cli('verify', mlp, mlp, '--value', bad);
      assert.equal(r.code, 2, bad);
      assert.match(
        r.stderr,
        new RegExp(`^model-lens: '${bad}' is not NAME=NUMBER \\(e\\.g\\. sr=16000, state=0\\)\n`),
        bad,
      );
    }
    const notInput = cli('verify', mlp, mlp, '--value', 'sr=16000');
    assert.equal(notInput.code, 1);
    assert.match(
      notInput.stderr,
      /^model-lens: .*mlp\.onnx: a value is given for 'sr', which is not an input \(inputs: input\)\n$/,
    );
    // A constant for the only input: nothing is random, so the models run once on it.
    const r = cli('verify', mlp, mlp, '--value', 'input=0.5', '--json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.samples, 1);
    assert.equal(report.measuredOn, '1 sample: input float32[1,64] = 0.5');
    assert.equal(
      cli('compress', mlp, '--method', 'int8', '--value', 'input=1', '--no-verify').code,
      2,
      '--value with --no-verify',
    );
  });
});
