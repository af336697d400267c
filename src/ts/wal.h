/* SPDX-License-Identifier: Apache-2.0
 * Write-ahead log of the time-series engine: CRC-framed records in numbered
 * segment files, one writer thread, group commit (concurrent appenders share
 * one fdatasync). Records are opaque to the WAL: a 1-byte type chosen by the
 * caller plus a payload. Recovery (ts_wal_replay) truncates a torn tail and
 * never refuses to start. The codec part (header/record encode and decode,
 * ts_wal_decode_image) is pure, so it is unit-tested and fuzzed without files.
 */
#ifndef LOOM_TS_WAL_H
#define LOOM_TS_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

/* ---------------------------------------------------------------------------
 * On-disk format, version 1. All integers little-endian.
 *
 * Directory: one file per segment, named "wal-<id>.log" where <id> is the
 * segment id as exactly 16 lower-case hex digits (e.g. wal-000000000000002a.log).
 * Ids grow by one per new segment; replay reads files in increasing id order.
 * Other names in the directory are ignored.
 *
 * File header (TS_WAL_HEADER_LEN = 24 bytes):
 *   offset size  meaning
 *   0      8     magic "LOOMWAL\0" (4c 4f 4f 4d 57 41 4c 00)
 *   8      4     u32 format version (TS_WAL_VERSION = 1)
 *   12     8     u64 segment id (must equal the id in the file name)
 *   20     4     u32 CRC-32 (zlib crc32, IEEE polynomial) of bytes 0..19
 *
 * Then zero or more records, back to back, up to the end of the file:
 *   offset size  meaning
 *   0      4     u32 len: payload length in bytes, 0..TS_WAL_MAX_RECORD
 *   4      4     u32 crc: zlib crc32 over bytes 0..3 (len), byte 8 (type)
 *                and the payload, in that order. Covering len means a torn or
 *                flipped length is caught instead of being trusted.
 *   8      1     u8 type (opaque to the WAL; chosen by the caller)
 *   9      len   payload
 * (TS_WAL_RECORD_HEADER_LEN = 9 bytes of framing per record.)
 *
 * A file whose bytes after the last complete, CRC-valid record are not
 * empty has a damaged tail: either torn (the last record is incomplete) or
 * corrupt (CRC mismatch, or len > TS_WAL_MAX_RECORD). An all-zero region is
 * detected as corrupt because crc32 of five zero bytes is not zero.
 * ------------------------------------------------------------------------- */

#define TS_WAL_MAGIC "LOOMWAL"
#define TS_WAL_VERSION 1u
#define TS_WAL_HEADER_LEN 24u
#define TS_WAL_RECORD_HEADER_LEN 9u
#define TS_WAL_MAX_RECORD (256u * 1024u * 1024u) /* bytes of payload */

/* Called once per valid record, in file order. payload points into the
 * caller's image (or a mapping) and is valid only during the call. Return 0
 * to continue, or a negative LOOM_E* code to stop (it is passed back). */
typedef int (*ts_wal_record_cb)(void *arg, uint8_t type, const uint8_t *payload, size_t len);

/* Write the 24-byte header of segment file_id into out. Pure; any thread. */
void ts_wal_header_encode(uint8_t out[TS_WAL_HEADER_LEN], uint64_t file_id);

/* Check a file header. Returns 0 (and *file_id), LOOM_ETRUNC if len < 24,
 * LOOM_ECORRUPT if the magic or CRC is wrong, LOOM_EUNSUP for an unknown
 * version. Pure; any thread. */
int ts_wal_header_decode(const uint8_t *p, size_t len, uint64_t *file_id);

/* Append one framed record (9 bytes + payload) to b. 0, LOOM_ENOMEM (b is
 * unchanged), or LOOM_ERANGE if len > TS_WAL_MAX_RECORD. payload may be NULL
 * when len is 0. Pure; any thread. */
int ts_wal_record_encode(loom_buf *b, uint8_t type, const void *payload, size_t len);

/* Decode the record at the start of p[0..len). On 0, fills *type, *payload
 * (pointing into p), *plen and *consumed (9 + *plen). Returns LOOM_ETRUNC if
 * p ends before the record does (torn), LOOM_ECORRUPT on a CRC mismatch or
 * an out-of-range length. Outputs are untouched on error. Pure; any thread. */
int ts_wal_record_decode(const uint8_t *p, size_t len, uint8_t *type, const uint8_t **payload,
                         size_t *plen, size_t *consumed);

/* What ts_wal_decode_image found. */
typedef struct ts_wal_image_info {
  uint64_t file_id;       /* from the header (0 if the header is bad) */
  uint64_t records;       /* valid records delivered to cb */
  uint64_t payload_bytes; /* sum of their payload lengths */
  size_t valid_len;       /* bytes of the valid prefix: header + whole valid
                             records; 0 when the header is bad */
  int status;             /* why decoding stopped: 0 = the image ends exactly
                             after a valid record (clean); LOOM_ETRUNC = torn
                             header or record at the end; LOOM_ECORRUPT = bad
                             magic/header CRC or record CRC/length;
                             LOOM_EUNSUP = unknown version */
} ts_wal_image_info;

/* Decode a whole WAL file image: the header, then every record in order
 * until the end or the first damaged record, calling cb (may be NULL) for each
 * valid one. Fills *info always; when cb aborts, info counts the records
 * delivered so far including the aborting one, and status is 0. Returns 0,
 * or the non-zero value cb returned (decoding stops there).
 * Damage is not an error of this function: it is reported in info->status.
 * Pure (no files, no globals); any thread. */
int ts_wal_decode_image(const uint8_t *img, size_t len, ts_wal_record_cb cb, void *arg,
                        ts_wal_image_info *info);

/* ---------------------------------------------------------------------------
 * The log.
 * ------------------------------------------------------------------------- */

typedef struct ts_wal ts_wal;

enum { TS_WAL_DURABLE = 0, TS_WAL_BATCHED = 1 };

/* Test hooks; a NULL member means the real syscall. They are called on the
 * writer thread (and on the thread calling ts_wal_replay/ts_wal_start for
 * recovery and the first segment). write_fn has write(2) semantics (may
 * short-write; -1 with errno set on failure). fsync_fn has fdatasync(2)
 * semantics (the real one is fdatasync for segments and fsync for the
 * directory) and returns 0 or -1 with errno set. */
typedef struct ts_wal_io {
  ssize_t (*write_fn)(int fd, const void *buf, size_t n);
  int (*fsync_fn)(int fd);
} ts_wal_io;

typedef struct ts_wal_options {
  int mode;                   /* TS_WAL_DURABLE (default, 0) or TS_WAL_BATCHED */
  uint32_t batch_interval_ms; /* batched: fsync at least this often; 0 = 100 */
  uint64_t segment_bytes;     /* start a new segment once a file reaches this
                                 size; 0 = 64 MiB */
  const ts_wal_io *io;        /* may be NULL; must outlive the WAL */
} ts_wal_options;

/* Done callback: runs once per successful ts_wal_append, on the writer thread
 * (DURABLE mode) once the record is durable (status 0) or has failed
 * (negative LOOM_E*: LOOM_ENOSPC, LOOM_EIO or LOOM_EREADONLY; the record must
 * then be treated as NOT written, although after a failed fsync it may still
 * reappear at replay: failure reports are at-least-once, as in PostgreSQL).
 * In BATCHED mode it runs inline in ts_wal_append with status 0. It must be
 * quick and must not call back into the WAL (e.g. just uv_async_send). */
typedef void (*ts_wal_done_cb)(void *arg, int status);

/* Open (creating dir with mode 0755 if missing; its parent must exist) the
 * WAL in dir. opt may be NULL (defaults). Nothing is written yet: call
 * ts_wal_replay, then ts_wal_start. Returns 0 and *out (owned by the caller,
 * release with ts_wal_close), LOOM_EINVAL (bad option, or dir is not a
 * directory), LOOM_ENOMEM, LOOM_EIO (or another errno mapping) if the
 * directory cannot be created or listed. Any thread. */
int ts_wal_open(const char *dir, const ts_wal_options *opt, ts_wal **out);

typedef struct ts_wal_replay_report {
  uint64_t records;         /* valid records delivered to cb */
  uint64_t bytes;           /* their payload bytes */
  uint64_t truncated_bytes; /* bytes cut off the last file (torn/corrupt
                               tail; a last file with a bad header is
                               removed and its size counted here) */
  uint32_t files;           /* segment files read */
  uint32_t corrupt_files;   /* older files that stopped early on damage
                               (their remaining bytes are skipped, kept) */
} ts_wal_replay_report;

/* Replay every valid record of every segment in id order, calling cb for
 * each (payload valid during the call only). The last file's damaged tail is
 * truncated away and fsynced (a second replay is then clean); damage in an
 * older file stops that file, is counted in corrupt_files, and replay goes
 * on with the next file. cb returns 0 to continue or a negative code to
 * abort: replay then returns that code, without repairing anything. rep may
 * be NULL. Must be called before ts_wal_start, from one thread. Returns 0,
 * cb's code, LOOM_EINVAL (already started), LOOM_EIO/LOOM_ENOMEM on failures
 * to read, map or truncate a file. */
int ts_wal_replay(ts_wal *w, ts_wal_record_cb cb, void *arg, ts_wal_replay_report *rep);

/* Start the writer thread on a new segment (id = highest existing + 1, or 1).
 * If ts_wal_replay was not called, the last existing file's damaged tail is
 * truncated first. Returns 0, LOOM_EINVAL (already started or closed),
 * LOOM_ENOMEM, LOOM_ENOSPC/LOOM_EIO (cannot create the first segment: its
 * header is written and the file and directory fsynced before use). */
int ts_wal_start(ts_wal *w);

/* Append one record. Thread-safe; does not block on I/O. Copies the payload
 * into the pending group and returns at once; cb (may be NULL) fires later.
 * In BATCHED mode cb(arg, 0) fires inline before this returns, as soon as the
 * record is in the pending buffer (before the fsync: the documented trade-off)
 * and the writer writes and fsyncs at least every batch_interval_ms. In
 * DURABLE mode the writer takes everything pending, write()s it, fdatasyncs
 * once, then fires the callbacks of the whole group (group commit).
 * Returns 0; LOOM_ENOMEM; LOOM_ERANGE (len > TS_WAL_MAX_RECORD); LOOM_EINVAL
 * (payload NULL with len > 0); LOOM_EREADONLY (after an earlier I/O failure
 * the WAL refuses every write: restart the daemon); LOOM_ECLOSED (not started
 * or closing). On error cb never runs. */
int ts_wal_append(ts_wal *w, uint8_t type, const void *payload, size_t len, ts_wal_done_cb cb,
                  void *arg);

/* Make every record appended before this call durable and wait for it (also
 * in BATCHED mode). Thread-safe; blocks; not from a done callback. Returns 0;
 * LOOM_ENOSPC/LOOM_EIO if some record appended before this call and still
 * unresolved at the call failed; LOOM_EREADONLY if the WAL is read-only;
 * LOOM_ECLOSED if not started or closing. */
int ts_wal_sync(ts_wal *w);

/* Start a new segment and return its id in *file_id. Every record appended
 * before this call is in files with smaller ids (durable on return); every
 * record appended after it returns is in files with ids >= *file_id.
 * Thread-safe; blocks; not from a done callback. Returns 0; LOOM_ENOSPC/
 * LOOM_EIO if the new file cannot be created (the current one stays in use);
 * LOOM_EREADONLY; LOOM_ECLOSED (not started or closing). */
int ts_wal_rotate(ts_wal *w, uint64_t *file_id);

/* Delete every segment with id < file_id (their data is stored elsewhere)
 * and fsync the directory. The segment being written is never deleted:
 * file_id greater than its id gives LOOM_EINVAL. Thread-safe. Returns 0,
 * LOOM_EINVAL, LOOM_EIO (listing, unlink or directory fsync failed; some
 * files may be gone). */
int ts_wal_remove_before(ts_wal *w, uint64_t file_id);

typedef struct ts_wal_stats {
  uint64_t bytes_written;  /* bytes written to segments (records + headers) */
  uint64_t records;        /* records written */
  uint64_t fsyncs;         /* fdatasync/fsync calls on segments and dir */
  uint64_t fsync_ns_total; /* time spent in them, ns */
  uint64_t fsync_ns_max;   /* slowest one, ns */
  uint64_t groups;         /* write batches (one write(2) burst each) */
  uint64_t disk_bytes;     /* current size of all segment files */
} ts_wal_stats;

/* Snapshot of the counters. Thread-safe. */
void ts_wal_stats_get(ts_wal *w, ts_wal_stats *out);

/* 1 once an I/O failure (a failed fsync, or a failed write other than disk
 * full in durable mode) has made the WAL read-only for good, else 0. The
 * writer sets it before it reports the failure to the callbacks, so a caller
 * told of a failure sees 1 here. Thread-safe. */
int ts_wal_readonly(ts_wal *w);

/* Current segment id (0 before ts_wal_start). Thread-safe. */
uint64_t ts_wal_current_id(ts_wal *w);

/* Stop accepting appends, write and fsync what is pending, fire every
 * outstanding callback (with the outcome), join the writer and free w.
 * Any thread except the writer (not from a done callback). NULL is a no-op. */
void ts_wal_close(ts_wal *w);

#endif
