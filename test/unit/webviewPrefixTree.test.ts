import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPrefixTree, filterFor, type PrefixNode } from '../../webview/prefixTree';

const shape = (nodes: PrefixNode[]): unknown =>
  nodes.map((n) => (n.children.length ? { [n.label]: shape(n.children) } : n.label));

describe('layer prefix tree', () => {
  it('folds dotted layer names by prefix, numbers in numeric order, single-child chains joined', () => {
    const tree = buildPrefixTree([
      'model.layers.10.mlp.up_proj',
      'model.layers.2.mlp.up_proj',
      'model.layers.2.self_attn.q_proj',
      'model.embed_tokens',
      'lm_head',
    ]);
    assert.deepEqual(shape(tree), [
      'lm_head',
      {
        model: [
          'embed_tokens',
          { layers: [{ '2': ['mlp.up_proj', 'self_attn.q_proj'] }, '10.mlp.up_proj'] },
        ],
      },
    ]);
    const model = tree[1];
    assert.equal(model.layers, 4);
    assert.equal(filterFor(model), 'model.');
    assert.equal(filterFor(model.children[0]), 'model.embed_tokens');
  });

  it('keeps a layer that is also a prefix of others as a node of its own', () => {
    const [blk] = buildPrefixTree(['blk.0', 'blk.0.ffn_up', 'blk.1.ffn_up']);
    assert.equal(blk.label, 'blk');
    const zero = blk.children[0];
    assert.equal(zero.isLayer, true);
    assert.equal(zero.children.length, 1);
    assert.equal(zero.layers, 2);
  });
});
