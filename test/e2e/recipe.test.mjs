// `model-lens recipe` on real models of the zoo: the preprocessing it proposes from each model's
// inputs and exporter, the file it writes beside the model and reads back, and one line per bad recipe.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { zooCopy } from './realModels.mjs';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const work = mkdtempSync(join(tmpdir(), 'model-lens-recipe-'));
after(() => rmSync(work, { recursive: true, force: true }));

function recipe(file, ...flags) {
  return JSON.parse(
    execFileSync(process.execPath, [CLI, 'recipe', file, '--json', ...flags], { encoding: 'utf8' }),
  );
}

function fails(file, ...flags) {
  const r = spawnSync(process.execPath, [CLI, 'recipe', file, ...flags], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  return lines[0];
}

describe('recipe: proposed from real models', () => {
  it('PaddleOCR (Paddle2ONNX, no producer field): BGR, ImageNet mean/std for the detector, (x/255 − 0.5)/0.5 and aspect-keeping pad for the 48-pixel recogniser', () => {
    const det = recipe(zooCopy('ch_PP-OCRv4_det_infer.onnx', work)).recipe.inputs.x;
    assert.deepEqual(det, {
      kind: 'image',
      width: 320,
      height: 320,
      fit: 'stretch',
      order: 'BGR',
      layout: 'NCHW',
      scale: 1 / 255,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
    });
    const rec = recipe(zooCopy('ch_PP-OCRv4_rec_infer.onnx', work)).recipe.inputs.x;
    assert.deepEqual(
      { ...rec, scale: undefined },
      {
        kind: 'image',
        width: 320,
        height: 48,
        fit: 'pad',
        order: 'BGR',
        layout: 'NCHW',
        scale: undefined,
        mean: [0.5, 0.5, 0.5],
        std: [0.5, 0.5, 0.5],
      },
    );
  });

  it('silero VAD v5 and legacy: 16 kHz audio in 512-sample chunks, sr = 16000, recurrent state zeros', () => {
    assert.deepEqual(recipe(zooCopy('silero_vad_v5.onnx', work)).recipe.inputs, {
      input: { kind: 'audio', rate: 16000, length: 512, scale: 1 },
      state: { kind: 'value', value: 0 },
      sr: { kind: 'value', value: 16000 },
    });
    const legacy = recipe(zooCopy('silero_vad_legacy.onnx', work)).recipe.inputs;
    assert.deepEqual(
      [legacy.h, legacy.c, legacy.sr],
      [
        { kind: 'value', value: 0 },
        { kind: 'value', value: 0 },
        { kind: 'value', value: 16000 },
      ],
    );
  });

  it('a one-channel 4-D input (openWakeWord mel frames, tf2onnx) is not taken for an image', () => {
    assert.deepEqual(recipe(zooCopy('embedding_model.onnx', work)).recipe.inputs.input_1, {
      kind: 'tensor',
    });
  });
});

describe('recipe: the file beside the model', () => {
  it('--write saves the proposal as <model>.lens.json, which is then read back and checked; it never overwrites without --force', () => {
    mkdirSync(join(work, 'write'));
    const model = zooCopy('silero_vad_v5.onnx', join(work, 'write'));
    const written = recipe(model, '--write');
    const path = model.replace(/\.onnx$/, '.lens.json');
    assert.equal(written.path, path);
    assert.ok(existsSync(path));
    const read = recipe(model);
    assert.equal(read.fromFile, true);
    assert.deepEqual(read.recipe, written.recipe, 'the file round-trips');
    assert.match(fails(model, '--write'), /lens\.json already exists \(use --force to overwrite\)/);
    // An edit the user makes is what the next run reads.
    const edited = JSON.parse(readFileSync(path, 'utf8'));
    edited.inputs.input.length = 1024;
    writeFileSync(path, JSON.stringify(edited));
    assert.equal(recipe(model).recipe.inputs.input.length, 1024);
    assert.equal(
      recipe(model, '--write', '--force').recipe.inputs.input.length,
      1024,
      '--force rewrites what the file holds, not the proposal',
    );
  });

  it('a bad recipe is one line naming the recipe file and the field', () => {
    mkdirSync(join(work, 'bad'));
    const model = zooCopy('silero_vad_v5.onnx', join(work, 'bad'));
    const path = model.replace(/\.onnx$/, '.lens.json');
    const cases = [
      ['{', /not JSON/],
      ['{"version": 2, "inputs": {}}', /version 2 is not 1/],
      [
        '{"version": 1, "inputs": {"nope": {"kind": "value", "value": 1}}}',
        /the model has no input 'nope' \(it has input, state, sr\)/,
      ],
      [
        '{"version": 1, "inputs": {"sr": {"kind": "value", "value": "x"}}}',
        /inputs\.sr\.value must be a number/,
      ],
      [
        '{"version": 1, "inputs": {"input": {"kind": "audio", "rate": 0, "length": 512}}}',
        /inputs\.input\.rate must be a positive whole number/,
      ],
      [
        '{"version": 1, "inputs": {"input": {"kind": "image", "width": 8, "height": 8, "std": [1, 0, 1]}}}',
        /inputs\.input\.std must be 1 or 3 nonzero numbers/,
      ],
      [
        '{"version": 1, "inputs": {"input": {"kind": "video"}}}',
        /inputs\.input\.kind must be image, audio, value or tensor/,
      ],
    ];
    for (const [text, want] of cases) {
      writeFileSync(path, text);
      const line = fails(model);
      assert.ok(line.startsWith(`model-lens: ${path}: `), line);
      assert.match(line, want);
    }
  });
});
