import type { CompressSpec } from '../core/compress/spec';
import type { Verdict, VerifyOutcome } from '../core/compress/verdict';
import type { CompressFileResult } from '../node/compress';

/** One compression as the extension's panels see it: written by the compress commands, shown by the report, Compare and the inspector. */
export interface CompressOutcome {
  result: CompressFileResult;
  spec: CompressSpec;
  verify: VerifyOutcome;
  /** The verdict every surface shows (report card, notification, log). */
  verdict: Verdict;
}
