// The WAL's options, checked once when it opens (wal.ts).

export interface WalOptions {
  /** A new segment starts once the current one reaches this size. */
  readonly segmentSizeBytes?: number;
}

export const DEFAULT_SEGMENT_SIZE_BYTES = 64 * 1024 * 1024;
const MIN_SEGMENT_SIZE_BYTES = 1024;
const MAX_SEGMENT_SIZE_BYTES = 1024 * 1024 * 1024;

/** The segment size `opts` asks for (the default if none); a RangeError outside the limits. */
export function segmentSizeOf(opts: WalOptions): number {
  const segmentSizeBytes = opts.segmentSizeBytes ?? DEFAULT_SEGMENT_SIZE_BYTES;
  if (!(
    Number.isInteger(segmentSizeBytes) &&
    segmentSizeBytes >= MIN_SEGMENT_SIZE_BYTES &&
    segmentSizeBytes <= MAX_SEGMENT_SIZE_BYTES
  )) {
    throw new RangeError(
      `segmentSizeBytes must be an integer in [${MIN_SEGMENT_SIZE_BYTES}, ${MAX_SEGMENT_SIZE_BYTES}], got ${segmentSizeBytes}`,
    );
  }
  return segmentSizeBytes;
}
