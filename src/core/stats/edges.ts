/** Histogram bin edges, shared by the stats kernels and the webview that re-reads their counts. Pure. */

/** Bin edges exactly as numpy.linspace(first, last, bins + 1) computes them. */
export function binEdges(first: number, last: number, bins: number): Float64Array {
  const edges = new Float64Array(bins + 1);
  const step = (last - first) / bins;
  for (let i = 0; i < bins; i++) edges[i] = i * step + first;
  edges[bins] = last;
  return edges;
}
