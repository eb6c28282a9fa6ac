import type { CompressSpec } from '../core/compress/spec';
import type { VerifySettings } from '../core/verify/verify';
import { compressFileChannels } from './channels';
import { compressFile, type CompressFileOptions, type CompressFileResult } from './compress';
import { compressFileHessian } from './hessianPrune';
import { compressFileLowRank } from './lowrank';

/**
 * Writes the variant a spec asks for, choosing how: methods that need the model run first (the
 * Hessian criterion's calibration, channel removal's shapes and importance, low rank's XᵀX, and
 * both structural methods' latency) take `calibration` inputs; the rest transform tensors alone.
 * The CLI and the extension's worker both come through here.
 */
export async function compressVariant(
  input: string,
  spec: CompressSpec,
  options: CompressFileOptions & { calibration?: VerifySettings },
): Promise<CompressFileResult> {
  const { calibration, ...fileOptions } = options;
  if (spec.options.criterion === 'hessian')
    return compressFileHessian(input, spec, { ...fileOptions, calibration });
  if (spec.methods.includes('channels'))
    return compressFileChannels(input, spec, { ...fileOptions, calibration });
  if (spec.methods.includes('lowrank'))
    return compressFileLowRank(input, spec, { ...fileOptions, calibration });
  return compressFile(input, spec, fileOptions);
}
