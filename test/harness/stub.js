// Harness only: stands in for the extension host. Defines acquireVsCodeApi and plays a realistic
// ModelView / StatsResult stream, chosen by the page's query string:
//   scenario=resnet (default) | big (20,000 tensors) | failed | empty | real (window.HARNESS_REAL, a zoo model)
//   theme=light | dark | hc   hold=N (stop streaming after N tensors)   reload=1   exportError=1
(() => {
  const params = new URLSearchParams(location.search);
  const scenario = params.get('scenario') ?? 'resnet';
  const hold = params.has('hold') ? Number(params.get('hold')) : Infinity;

  function applyTheme(name) {
    const theme = window.HARNESS_THEMES[name] ?? window.HARNESS_THEMES.dark;
    const root = document.documentElement;
    for (const prop of [...root.style])
      if (prop.startsWith('--vscode-')) root.style.removeProperty(prop);
    root.style.setProperty(
      '--vscode-font-family',
      '"Segoe WPC", "Segoe UI", "Ubuntu", "Droid Sans", system-ui, sans-serif',
    );
    root.style.setProperty('--vscode-font-size', '13px');
    root.style.setProperty('--vscode-font-weight', 'normal');
    root.style.setProperty(
      '--vscode-editor-font-family',
      '"Droid Sans Mono", "DejaVu Sans Mono", monospace',
    );
    root.style.setProperty('--vscode-editor-font-size', '14px');
    for (const [k, v] of Object.entries(theme.vars)) root.style.setProperty(`--vscode-${k}`, v);
    document.body.className = theme.bodyClass;
    document.body.dataset.vscodeThemeKind = theme.kind;
  }

  // ---- deterministic data ----
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const erf = (x) => {
    const t = 1 / (1 + 0.3275911 * Math.abs(x));
    const y =
      1 -
      ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
        t *
        Math.exp(-x * x);
    return x >= 0 ? y : -y;
  };
  const cdf = (x, mean, std) => 0.5 * (1 + erf((x - mean) / (std * Math.SQRT2)));

  function makeStats(t, kind, bins) {
    const count = t.count;
    if (kind.type === 'error') return { index: t.index, error: kind.error };
    if (kind.type === 'constant') {
      const counts = new Uint32Array(bins);
      counts[bins >> 1] = count;
      const v = kind.value;
      return {
        index: t.index,
        stats: {
          count,
          min: v,
          max: v,
          mean: v,
          std: 0,
          zeros: v === 0 ? count : 0,
          sparsity: v === 0 ? 1 : 0,
          nan: 0,
          inf: 0,
          histogram: { min: v - 0.5, max: v + 0.5, counts },
          p1: v,
          p50: v,
          p99: v,
          entropy: 0,
        },
      };
    }
    const { mean, std } = kind;
    const prune = kind.prune ?? 0;
    const lo = mean - std * (3 + rand() * 1.5);
    const hi = mean + std * (3 + rand() * 1.5);
    const w = (hi - lo) / bins;
    const counts = new Uint32Array(bins);
    const dense = count * (1 - prune);
    let sum = 0;
    let peak = 0;
    for (let i = 0; i < bins; i++) {
      counts[i] = Math.round(
        dense * (cdf(lo + (i + 1) * w, mean, std) - cdf(lo + i * w, mean, std)),
      );
      sum += counts[i];
      if (counts[i] > counts[peak]) peak = i;
    }
    const zeros = Math.round(count * prune);
    if (zeros > 0) {
      const zbin = Math.min(bins - 1, Math.max(0, Math.floor((0 - lo) / w)));
      counts[zbin] += zeros;
      sum += zeros;
    }
    counts[peak] += count - sum;
    let entropy = 0;
    for (const c of counts) if (c > 0) entropy -= (c / count) * Math.log2(c / count);
    const nan = kind.nan ?? 0;
    return {
      index: t.index,
      stats: {
        count,
        min: lo,
        max: hi,
        mean: mean * (1 - prune),
        std: std * Math.sqrt(1 - prune),
        zeros,
        sparsity: zeros / count,
        nan,
        inf: 0,
        histogram: { min: lo, max: hi, counts },
        p1: mean - 2.326 * std,
        p50: prune > 0.5 ? 0 : mean,
        p99: mean + 2.326 * std,
        entropy,
      },
    };
  }

  function builder() {
    const tensors = [];
    const layers = [];
    const kinds = [];
    const opCounts = {};
    let nodeCount = 0;
    const tensor = (name, dtype, dims, kind) => {
      const count = dims.reduce((a, b) => a * b, 1);
      const bits = { 1: 32, 7: 64, 8: 0, 10: 16 }[dtype];
      tensors.push({
        name,
        dtype,
        dims,
        count,
        bytes: Math.ceil((count * bits) / 8),
        origin: 'initializer',
        scope: '',
      });
      kinds.push(kind);
      return tensors.length - 1;
    };
    const node = (name, op, ts = []) => {
      nodeCount++;
      opCounts[op] = (opCounts[op] ?? 0) + 1;
      if (ts.length) layers.push({ name, op, domain: '', scope: '', tensors: ts });
    };
    return { tensors, layers, kinds, opCounts, node, tensor, nodeCount: () => nodeCount };
  }

  function resnet() {
    const b = builder();
    const conv = (name, cout, cin, k, opts = {}) => {
      const std = Math.sqrt(2 / (cin * k * k));
      const w = b.tensor(`${name}.weight`, 1, [cout, cin, k, k], {
        type: 'normal',
        mean: 0,
        std,
        prune: opts.prune,
      });
      const bias = b.tensor(
        `${name}.bias`,
        1,
        [cout],
        opts.zeroBias
          ? { type: 'constant', value: 0 }
          : { type: 'normal', mean: 0.02, std: 0.08, nan: opts.nan },
      );
      b.node(`/${name.replace(/\./g, '/')}/Conv`, 'Conv', [w, bias]);
    };
    conv('conv1', 64, 3, 7);
    b.node('/relu/Relu', 'Relu');
    b.node('/maxpool/MaxPool', 'MaxPool');
    let cin = 64;
    [
      [64, 3],
      [128, 4],
      [256, 6],
      [512, 3],
    ].forEach(([width, blocks], s) => {
      for (let i = 0; i < blocks; i++) {
        const p = `layer${s + 1}.${i}`;
        const pruned = s === 2 && i >= 2 ? 0.6 : 0;
        conv(`${p}.conv1`, width, cin, 1);
        b.node(`/${p}/relu/Relu`, 'Relu');
        conv(`${p}.conv2`, width, width, 3, { prune: pruned, zeroBias: s === 1 && i === 2 });
        b.node(`/${p}/relu_1/Relu`, 'Relu');
        conv(`${p}.conv3`, width * 4, width, 1, { nan: s === 3 && i === 2 ? 2 : 0 });
        if (i === 0) conv(`${p}.downsample.0`, width * 4, cin, 1);
        b.node(`/${p}/Add`, 'Add');
        b.node(`/${p}/relu_2/Relu`, 'Relu');
        cin = width * 4;
      }
    });
    b.node('/avgpool/GlobalAveragePool', 'GlobalAveragePool');
    const shape = b.tensor('/Constant_output_0', 7, [2], { type: 'normal', mean: 0, std: 1 });
    b.node('/Reshape', 'Reshape', [shape]);
    const fw = b.tensor('fc.weight', 1, [1000, 2048], { type: 'normal', mean: 0, std: 0.03 });
    const fb = b.tensor('fc.bias', 1, [1000], { type: 'normal', mean: 0, std: 0.01 });
    b.node('/fc/Gemm', 'Gemm', [fw, fb]);
    b.node('/Softmax', 'Softmax');
    b.tensor('onnx::Mul_unused', 1, [16], { type: 'normal', mean: 1, std: 0.1 });
    b.tensor('class_labels', 8, [1000], {
      type: 'error',
      error: 'string tensors have no numeric statistics',
    });
    return {
      fileName: 'resnet50-v1-12.onnx',
      ...b,
      warnings: ['Initializer "onnx::Mul_unused" is not used by any node.'],
      metadata: {
        irVersion: 8,
        opsets: [
          { domain: '', version: 17 },
          { domain: 'ai.onnx.ml', version: 3 },
        ],
        producer: 'pytorch',
        producerVersion: '2.1.0',
        graphName: 'main_graph',
        docString: 'ResNet-50 v1 exported from torchvision.',
        properties: [],
      },
      inputs: [{ name: 'input', dtype: 1, shape: ['batch_size', 3, 224, 224] }],
      outputs: [{ name: 'logits', dtype: 1, shape: ['batch_size', 1000] }],
    };
  }

  function big() {
    const b = builder();
    const d = 512;
    for (let i = 0; b.tensors.length < 20000; i++) {
      const p = `model.decoder.layers.${i}`;
      const ln1 = [
        b.tensor(`${p}.input_layernorm.weight`, 1, [d], { type: 'normal', mean: 1, std: 0.05 }),
      ];
      b.node(`/${p}/input_layernorm/LayerNormalization`, 'LayerNormalization', ln1);
      for (const proj of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) {
        const w = b.tensor(`${p}.self_attn.${proj}.weight`, 10, [d, d], {
          type: 'normal',
          mean: 0,
          std: 0.02 + rand() * 0.02,
          prune: i % 7 === 3 ? 0.5 : 0,
        });
        const bias = b.tensor(`${p}.self_attn.${proj}.bias`, 10, [d], {
          type: 'normal',
          mean: 0,
          std: 0.01,
        });
        b.node(`/${p}/self_attn/${proj}/MatMul`, 'MatMul', [w]);
        b.node(`/${p}/self_attn/${proj}/Add`, 'Add', [bias]);
      }
      b.node(`/${p}/self_attn/Softmax`, 'Softmax');
      const ln2 = [
        b.tensor(`${p}.post_attention_layernorm.weight`, 1, [d], {
          type: 'normal',
          mean: 1,
          std: 0.05,
        }),
      ];
      b.node(`/${p}/post_attention_layernorm/LayerNormalization`, 'LayerNormalization', ln2);
      for (const [name, shape] of [
        ['fc1', [4 * d, d]],
        ['fc2', [d, 4 * d]],
      ]) {
        const w = b.tensor(`${p}.mlp.${name}.weight`, 10, shape, {
          type: 'normal',
          mean: 0,
          std: 0.02,
        });
        b.node(`/${p}/mlp/${name}/MatMul`, 'MatMul', [w]);
      }
      b.node(`/${p}/mlp/act/Gelu`, 'Gelu', []);
    }
    return {
      fileName: 'decoder-20k.onnx',
      ...b,
      warnings: [],
      metadata: {
        irVersion: 9,
        opsets: [
          { domain: '', version: 19 },
          { domain: 'com.microsoft', version: 1 },
        ],
        producer: 'onnxruntime.transformers',
        producerVersion: '1.17.0',
        graphName: 'torch_jit',
        properties: [{ key: 'model_type', value: 'decoder' }],
      },
      inputs: [
        { name: 'input_ids', dtype: 7, shape: ['batch', 'sequence'] },
        { name: 'attention_mask', dtype: 7, shape: ['batch', 'sequence'] },
      ],
      outputs: [{ name: 'logits', dtype: 10, shape: ['batch', 'sequence', 32000] }],
    };
  }

  // ---- the fake host ----
  // The harness has no onnxruntime: the Sensitivity tab says so.
  const HARNESS_SENSITIVITY = { available: false, reason: 'the screenshot harness runs no models' };
  const post = (msg) => window.postMessage(msg, '*');
  let generation = 0;

  function play(cached) {
    const gen = ++generation;
    if (scenario === 'failed') {
      post({
        type: 'failed',
        message:
          'broken.onnx: not an ONNX model (protobuf field 7 has wire type 3 at byte 1,284; the file may be truncated)',
      });
      return;
    }
    if (scenario === 'real') {
      playReal(gen, cached);
      return;
    }
    const m =
      scenario === 'big'
        ? big()
        : scenario === 'empty'
          ? { ...resnet(), tensors: [], layers: [], kinds: [] }
          : resnet();
    const tensors = m.tensors.map((t, index) => ({ ...t, index }));
    const model = {
      format: 'onnx',
      fileBytes: tensors.reduce((s, t) => s + t.bytes, 0) + 48_213,
      metadata: m.metadata,
      nodeCount: m.nodeCount(),
      opCounts: m.opCounts,
      inputs: m.inputs,
      outputs: m.outputs,
      tensors: m.tensors,
      layers: m.layers,
      warnings: m.warnings,
    };
    window.harness.lastModel = {
      type: 'model',
      fileName: m.fileName,
      model,
      config: { bins: 256, nearZero: 0 },
      sensitivity: HARNESS_SENSITIVITY,
    };
    post(window.harness.lastModel);
    const total = tensors.length;
    const batch = scenario === 'big' ? 1000 : 12;
    const started = performance.now();
    let done = 0;
    const step = () => {
      if (gen !== generation) return;
      if (done >= Math.min(total, hold)) {
        if (done >= total)
          post({
            type: 'statsDone',
            elapsedMs: cached ? 212 : performance.now() - started + 1830,
            cached,
          });
        return;
      }
      const slice = tensors.slice(done, Math.min(done + batch, total, hold));
      post({ type: 'stats', results: slice.map((t) => makeStats(t, m.kinds[t.index], 256)) });
      done += slice.length;
      post({ type: 'progress', done, total });
      setTimeout(step, cached ? 0 : 25);
    };
    post({ type: 'progress', done: 0, total });
    setTimeout(step, 30);
  }

  /** A real model's messages (computed by the harness server with the real core), streamed like the host does. */
  function playReal(gen, cached) {
    const r = window.HARNESS_REAL;
    window.harness.lastModel = {
      type: 'model',
      fileName: r.fileName,
      model: r.model,
      config: { bins: 256, nearZero: 0 },
      sensitivity: HARNESS_SENSITIVITY,
    };
    post(window.harness.lastModel);
    const results = r.results.map((x) =>
      x.stats
        ? {
            ...x,
            stats: {
              ...x.stats,
              histogram: {
                ...x.stats.histogram,
                counts: Uint32Array.from(x.stats.histogram.counts),
              },
            },
          }
        : x,
    );
    const total = results.length;
    let done = 0;
    const step = () => {
      if (gen !== generation) return;
      if (done >= Math.min(total, hold)) {
        if (done >= total) post({ type: 'statsDone', elapsedMs: 640, cached });
        return;
      }
      const slice = results.slice(done, Math.min(done + 48, total, hold));
      post({ type: 'stats', results: slice });
      done += slice.length;
      post({ type: 'progress', done, total });
      setTimeout(step, cached ? 0 : 10);
    };
    post({ type: 'progress', done: 0, total });
    setTimeout(step, 30);
  }

  window.acquireVsCodeApi = () => ({
    postMessage(msg) {
      if (msg.type === 'ready') {
        setTimeout(() => play(params.has('cached')), 40);
        if (params.has('reload')) {
          setTimeout(() => post({ type: 'reloading' }), 2500);
          if (params.get('reload') !== 'hold') setTimeout(() => play(false), 4000);
        }
      } else if (msg.type === 'request') {
        setTimeout(() => {
          if (msg.method === 'exportStatistics' && params.has('exportError')) {
            post({
              type: 'response',
              id: msg.id,
              error: `EACCES: permission denied, open '/models/resnet50-v1-12.stats.${msg.params.format}'`,
            });
          } else {
            post({
              type: 'response',
              id: msg.id,
              result:
                msg.method === 'exportStatistics'
                  ? `/models/stats.${msg.params.format}`
                  : undefined,
            });
            if (msg.method === 'recompute') play(false);
          }
        }, 150);
      }
    },
    getState: () => JSON.parse(sessionStorage.getItem('harness-state') ?? 'null'),
    setState: (s) => sessionStorage.setItem('harness-state', JSON.stringify(s)),
  });
  window.harness = { applyTheme, post };
  applyTheme(params.get('theme') ?? 'dark');
})();
