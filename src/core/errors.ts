/** The one error type a reader may throw for a bad file; anything else is a bug in Model Lens. */
export class InvalidModelError extends Error {
  override readonly name = 'InvalidModelError';
}

/** Raised when the user (or a timeout) cancels a long operation. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor() {
    super('cancelled');
  }
}

export function invalid(message: string): never {
  throw new InvalidModelError(message);
}

/** Converts a bigint from the file to a number, refusing values a JS number cannot hold exactly. */
export function checkedNumber(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER))
    invalid(`${what} out of range: ${value}`);
  return Number(value);
}
