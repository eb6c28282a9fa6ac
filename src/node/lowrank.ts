import * as path from 'node:path';
import { HESSIAN_OPS, planHessian } from '../core/compress/hessianPlan';
import {
  chooseRanks,
  choleskyDamped,
  maxSavingRank,
  shrinkage,
  svd,
  truncate,
  unwhiten,
  whiten,
  type Svd,
} from '../core/compress/methods/svd';
import type { Gram } from '../core/compress/methods/obs';
import type { LowRankLayer, LowRankReport } from '../core/compress/report';
import { normaliseSpec, variantSuffix, type CompressSpec } from '../core/compress/spec';
import { readFloat64 } from '../core/compress/tensors';
import { MIN_COMPRESSIBLE_ELEMENTS } from '../core/compress/weights';
import { CancelledError, invalid } from '../core/errors';
import { readModel } from '../core/formats';
import {
  factorLayer,
  findFactorable,
  weightMatrix,
  type Factorable,
} from '../core/formats/onnx/structure/lowrank';
import { writeOnnx, type RewritePlan, type TensorEdit } from '../core/formats/onnx/writer';
import { MemorySource, readExactly } from '../core/io/source';
import type { Model } from '../core/model';
import { isSupportedDtype } from '../core/verify/tensor';
import type { VerifySettings } from '../core/verify/verify';
import { collectHessians } from './activations';
import { variantPath } from './atomicWrite';
import type { CompressFileOptions, CompressFileResult } from './compress';
import { runInputs } from './data/open';
import { FileSource, FolderResolver } from './fileSource';
import { DEFAULT_CALIBRATION_SAMPLES } from './hessianPrune';
import { memorySink } from './inMemory';
import {
  constantsOf,
  finishStructural,
  openStructure,
  parameters,
  readStructure,
  STRUCTURE_KEY,
  structuralCost,
} from './structural';
import { modelBytes, ortFor } from './verify';

export interface LowRankOptions extends CompressFileOptions {
  /** Calibration inputs for the data-aware criterion (default 32 random samples), as verify takes them. */
  calibration?: VerifySettings;
  wasmDir?: string;
}

/** Where each factor of the student came from: the teacher's weight, the rank and the factor's side. */
export interface LowRankLineage {
  method: 'lowrank';
  teacher: string;
  criterion: 'svd' | 'data';
  tensors: Record<string, { from: string; rank: number; factor: 'u' | 'v'; node: string }>;
}

/** One layer's truncation input: the SVD of W (or of S·W) and, for the data criterion, L with H = LLᵀ. */
interface Decomposed {
  layer: Factorable;
  svd: Svd;
  cholesky?: Float64Array;
  note?: string;
}

/** H = XᵀX per factorable weight (by name), from calibration runs of the original. */
async function layerHessians(
  input: string,
  model: Model,
  nodes: Parameters<typeof planHessian>[1],
  layers: readonly Factorable[],
  settings: VerifySettings,
  options: LowRankOptions,
): Promise<{
  grams: Map<string, { gram: Gram; diagonal: boolean }>;
  fallback: Map<string, string>;
  planned: Set<string>;
  samples: number;
  warnings: string[];
}> {
  const names = new Set(layers.map((l) => l.weight.name));
  const all = planHessian(
    model,
    nodes.filter((n) => HESSIAN_OPS.has(n.op)),
  );
  const plans = new Map([...all].filter(([, p]) => names.has(p.name)));
  const fallback = new Map<string, string>();
  for (const p of plans.values()) if (p.fallback) fallback.set(p.name, p.fallback);
  const { ort } = ortFor({ ...settings, wasmDir: options.wasmDir });
  const warnings: string[] = [];
  const feeds = await runInputs(input, model, settings, warnings, options.cancelled);
  const fetch = model.outputs.filter((o) => isSupportedDtype(o.dtype)).map((o) => o.name);
  const collected = await collectHessians(
    ort,
    input,
    model,
    plans,
    modelBytes(input, model),
    feeds,
    fetch,
    (i) => {
      if (options.cancelled?.()) throw new CancelledError();
      options.progress?.(0, 3, `calibration run ${i + 1}/${feeds.samples}`);
    },
  );
  const grams = new Map<string, { gram: Gram; diagonal: boolean }>();
  for (const p of plans.values()) {
    const g = collected.byWeight.get(p.index)?.[0];
    if (p.fallback) fallback.set(p.name, p.fallback);
    else if (g) grams.set(p.name, { gram: g, diagonal: p.diagonal });
  }
  return {
    grams,
    fallback,
    planned: new Set([...plans.values()].map((p) => p.name)),
    samples: feeds.samples,
    warnings,
  };
}

/**
 * `--method lowrank`: factors each MatMul/Gemm/Conv weight W [K, N] into U [K, r]·V [r, N] (two
 * thin layers), the ranks chosen by one budget on normalised singular-value energy so that the
 * factorable layers lose `amount` of their parameters; with the data criterion the SVD is of S·W
 * (SᵀS = XᵀX on calibration runs) and U = S⁻¹·U_s, which minimises ‖X(W − UV)‖. Then the rest of
 * the chain (int8, ...). The original is only read.
 */
export async function compressFileLowRank(
  input: string,
  spec: CompressSpec,
  options: LowRankOptions = {},
): Promise<CompressFileResult> {
  const started = performance.now();
  const s = normaliseSpec(spec);
  const amount = s.options.amount!;
  const criterion = s.options.criterion === 'svd' ? 'svd' : 'data';
  const output = path.resolve(options.output ?? variantPath(input, variantSuffix(s)));
  if (path.resolve(input) === output) throw new Error('the output would overwrite the original');
  const check = () => {
    if (options.cancelled?.()) throw new CancelledError();
  };
  const { model, nodes } = readStructure(input, 'low-rank factorisation');
  const constants = constantsOf(model);
  const { layers, skipped } = findFactorable(
    nodes,
    constants,
    model.outputs.map((o) => o.name),
  );
  if (!layers.length) {
    invalid(
      `nothing to factor: no MatMul, Gemm or Conv (group 1) with a constant float weight that a lower rank would shrink${skipped.length ? ` (${[...new Set(skipped.map((x) => x.reason))].slice(0, 3).join('; ')})` : ''}`,
    );
  }
  let hessians: Awaited<ReturnType<typeof layerHessians>> | undefined;
  if (criterion === 'data') {
    const settings: VerifySettings = {
      ...options.calibration,
      samples: options.calibration?.samples ?? DEFAULT_CALIBRATION_SAMPLES,
      seed: options.calibration?.seed ?? s.options.seed,
    };
    hessians = await layerHessians(input, model, nodes, layers, settings, options);
  }
  check();
  options.progress?.(1, 3, 'factoring');
  const source = new FileSource(input);
  const resolver = new FolderResolver(input);
  let bytes: Uint8Array;
  let structure: LowRankReport;
  try {
    const decomposed: Decomposed[] = layers.map((layer) => {
      const w = weightMatrix(
        layer,
        readFloat64(source, layer.weight, (f) => resolver.open(f)),
      );
      if (hessians) {
        const h = hessians.grams.get(layer.weight.name);
        const why =
          hessians.fallback.get(layer.weight.name) ??
          (h
            ? undefined
            : hessians.planned.has(layer.weight.name)
              ? 'no activations reached it'
              : `not among the calibrated weights (under ${MIN_COMPRESSIBLE_ELEMENTS} elements, or outside the weight scope)`);
        const damp = h ? shrinkage(layer.K, h.gram.rows) : Infinity;
        const L =
          h && Number.isFinite(damp)
            ? choleskyDamped(
                h.diagonal ? h.gram.diagonal() : h.gram.matrix(),
                layer.K,
                h.diagonal,
                damp,
              )
            : undefined;
        hessians.grams.delete(layer.weight.name);
        if (L) {
          const notes = [
            h!.diagonal ? 'diagonal XᵀX' : '',
            damp > 0.01
              ? `${h!.gram.rows} rows for ${layer.K} inputs: XᵀX shrunk by ${(damp / (1 + damp)).toFixed(2)} towards the identity`
              : '',
          ].filter(Boolean);
          return {
            layer,
            svd: svd(whiten(w, layer.K, layer.N, L), layer.K, layer.N),
            cholesky: L,
            ...(notes.length ? { note: notes.join('; ') } : {}),
          };
        }
        return {
          layer,
          svd: svd(w, layer.K, layer.N),
          note: `plain SVD: ${why ?? 'its activations are not finite'}`,
        };
      }
      return { layer, svd: svd(w, layer.K, layer.N) };
    });
    check();
    const ranks = chooseRanks(
      decomposed.map((d) => ({ K: d.layer.K, N: d.layer.N, energies: d.svd.s.map((x) => x * x) })),
      amount,
    );
    if (ranks.every((r) => r === 0))
      invalid(
        `no layer can lose ${Math.round(amount * 100)}% of its parameters by a lower rank and still save any: try a larger --amount`,
      );
    const edits: TensorEdit[] = [];
    const replaced = new Map<number, Uint8Array[]>();
    const lineage: LowRankLineage = {
      method: 'lowrank',
      teacher: path.basename(input),
      criterion,
      tensors: {},
    };
    const reported: LowRankLayer[] = [];
    decomposed.forEach((d, i) => {
      const { layer } = d;
      const rank = ranks[i];
      const total = d.svd.s.reduce((a, x) => a + x * x, 0);
      const kept = d.svd.s.subarray(0, rank).reduce((a, x) => a + x * x, 0);
      const node = layer.node.name || layer.node.outputs[0];
      reported.push({
        node,
        op: layer.kind,
        weight: layer.weight.name,
        K: layer.K,
        N: layer.N,
        rank,
        maxRank: maxSavingRank(layer.K, layer.N),
        energy: rank && total > 0 ? kept / total : 1,
        ...(d.note ? { note: d.note } : {}),
      });
      if (!rank) return;
      const f = truncate(d.svd, rank);
      const u = d.cholesky ? unwhiten(f.u, layer.K, rank, d.cholesky) : f.u;
      const out = factorLayer(
        layer,
        u,
        f.v,
        rank,
        readExactly(source, layer.node.span[0], layer.node.span[1] - layer.node.span[0]),
      );
      edits.push({ tensor: layer.weight, initializers: out.initializers, nodes: [] });
      replaced.set(layer.node.span[0], out.nodes);
      for (const [t, factor] of [
        [out.initializers[0], 'u'],
        [out.initializers[1], 'v'],
      ] as const)
        lineage.tensors[t.name] = { from: layer.weight.name, rank, factor, node };
    });
    const plan: RewritePlan = {
      edits,
      nodes: replaced,
      metadata: [{ key: STRUCTURE_KEY, value: JSON.stringify(lineage) }],
      // A Constant turned into initializers: IR < 4 would require them to be graph inputs.
      irVersion: edits.some((e) => e.tensor.origin === 'Constant')
        ? Math.max(model.metadata.irVersion ?? 0, 4)
        : undefined,
    };
    const sink = memorySink();
    writeOnnx(source, plan, sink);
    bytes = sink.bytes();
    const after = readModel(new MemorySource(bytes, output), path.basename(output));
    const layerParametersBefore = layers.reduce((n, l) => n + l.K * l.N, 0);
    structure = {
      method: 'lowrank',
      amount,
      criterion,
      ...(hessians ? { samples: hessians.samples } : {}),
      parametersBefore: parameters(model),
      parametersAfter: parameters(after),
      layerParametersBefore,
      layerParametersAfter: reported.reduce(
        (n, l) => n + (l.rank ? l.rank * (l.K + l.N) : l.K * l.N),
        0,
      ),
      layers: reported,
      skipped,
    };
  } finally {
    source.close();
    resolver.close();
  }
  check();
  options.progress?.(2, 3, 'measuring parameters, multiply-adds and latency');
  // The teacher's shapes and the inputs come from the settings verify uses (not the calibration's 32 samples: one run is enough).
  const teacher = await openStructure(
    input,
    'low-rank factorisation',
    options.calibration ?? {},
    options,
  );
  Object.assign(structure, await structuralCost(teacher, output, bytes));
  check();
  const result = finishStructural(input, output, s, 'lowrank', bytes, structure, options, started);
  if (hessians) result.report.warnings.push(...hessians.warnings);
  options.progress?.(3, 3, 'done');
  return result;
}
