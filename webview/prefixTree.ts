/** The layer tree of weight-only formats: dotted layer names folded into a prefix hierarchy. Pure. */

export interface PrefixNode {
  /** This level's segment, e.g. '3' or 'mlp'; chains with a single child are joined ('mlp.up_proj'). */
  label: string;
  /** The full dotted prefix the node stands for. */
  prefix: string;
  /** Layers at or below this node. */
  layers: number;
  /** A whole layer name (a leaf of the tree), not only a prefix of others. */
  isLayer: boolean;
  children: PrefixNode[];
}

const collator = new Intl.Collator('en', { numeric: true });

/** Builds the tree from layer names, numeric segments in numeric order (layers.2 before layers.10). */
export function buildPrefixTree(names: readonly string[]): PrefixNode[] {
  const root: PrefixNode = { label: '', prefix: '', layers: 0, isLayer: false, children: [] };
  const index = new Map<string, PrefixNode>([['', root]]);
  for (const name of new Set(names)) {
    const parts = name.split('.');
    let parent = root;
    parent.layers++;
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i + 1).join('.');
      let node = index.get(prefix);
      if (!node) {
        node = { label: parts[i], prefix, layers: 0, isLayer: false, children: [] };
        index.set(prefix, node);
        parent.children.push(node);
      }
      node.layers++;
      parent = node;
    }
    parent.isLayer = true;
  }
  const finish = (node: PrefixNode): PrefixNode => {
    node.children.sort((a, b) => collator.compare(a.label, b.label));
    node.children = node.children.map(finish);
    // A prefix with one child and no layer of its own adds a level without information.
    if (node.children.length === 1 && !node.isLayer && node.label) {
      const only = node.children[0];
      return { ...only, label: `${node.label}.${only.label}` };
    }
    return node;
  };
  return finish(root).children;
}

/** The filter text that shows exactly a node's rows: a branch matches its dotted prefix. */
export function filterFor(node: PrefixNode): string {
  return node.children.length ? `${node.prefix}.` : node.prefix;
}
