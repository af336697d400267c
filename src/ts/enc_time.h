/* SPDX-License-Identifier: Apache-2.0
 * Timestamp column codec: strictly increasing int64 ns timestamps as the
 * first value plus deltas, choosing per block the smallest of delta-FOR,
 * delta-of-delta FOR and delta-of-delta run-length coding. Regular intervals
 * cost 0 bits per point (a few bytes per block), regular series with gaps a
 * few bytes per gap, jittered series ~log2(jitter range) bits per point.
 */
#ifndef LOOM_TS_ENC_TIME_H
#define LOOM_TS_ENC_TIME_H

#include <stdint.h>

#include "core/buf.h"

/* Append the timestamp column of n (>= 1) strictly increasing timestamps.
 * All arithmetic is mod 2^64, so any int64 sequence is safe.
 *
 * Layout (varints LEB128, "zz" zigzag; d[i] = ts[i] - ts[i-1] mod 2^64,
 * dod[i] = d[i] - d[i-1] mod 2^64 taken as int64):
 *   8   ts[0], int64 LE
 *   --  nothing more when n == 1; else:
 *   1   mode: 0 = delta-FOR, 1 = dod-FOR, 2 = dod-RLE, 3 = gcd-delta-FOR
 *   mode 0: dmin uvarint (minimum of d[1..n-1]), u8 w (0..64),
 *           ts_bits_len(n-1, w) bytes packing d[i] - dmin (see enc_int.h)
 *   mode 3: g uvarint (>= 2, the GCD of every d[i]), qmin uvarint (minimum of
 *           d[i] / g), u8 w, ts_bits_len(n-1, w) bytes packing d[i] / g - qmin
 *           (regular data with gaps: 10 s steps and 20 s gaps pack in 1 bit)
 *   mode 1: d[1] uvarint, dodmin zz varint, u8 w (0..64),
 *           ts_bits_len(n-2, w) bytes packing dod[i] - dodmin, i = 2..n-1
 *   mode 2: d[1] uvarint, then dod[2..n-1] as repeated
 *           { zero-run uvarint (count of zero dods), one non-zero dod as zz
 *             varint if any dod remains }
 * The column ends exactly there.
 * Returns 0, LOOM_EINVAL (n == 0 or not strictly increasing) or LOOM_ENOMEM;
 * out->len is unchanged on error. */
int ts_enc_time_encode(const int64_t *ts, uint32_t n, loom_buf *out);

/* Decode a column of n (>= 1) timestamps from exactly p[0..len) into out.
 * Returns 0 or LOOM_ECORRUPT (malformed, trailing bytes, or the decoded
 * timestamps are not strictly increasing). */
int ts_enc_time_decode(const uint8_t *p, size_t len, uint32_t n, int64_t *out);

#endif
