/**
 * The calibration data remembered for a model (extension/calibrationData.ts) as the Sensitivity tab
 * and the report show it: what the model's next runs are fed.
 */
export interface CalibrationView {
  /** No files chosen: seeded random inputs. */
  random: boolean;
  /** One short line: 'random inputs', 'crops/', 'a.png, b.png', 'crops/ + chunk.npz', '3 paths'. */
  label: string;
  /** Every chosen path in full, one a line, for a tooltip. */
  detail: string;
}
