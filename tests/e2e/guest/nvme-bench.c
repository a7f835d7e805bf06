// SPDX-License-Identifier: MIT
/*
 * Guest-side comparison of the vgpu command queue (through the vgpu kernel
 * module and libvgpu) with QEMU's NVMe emulation (the Linux nvme driver),
 * side by side in one guest: both are ring-based devices emulated in Dom0,
 * both complete by MSI interrupt.
 *
 *   nvme-bench [VGPU-DEV] [NVME-NAMESPACE]   (default /dev/vgpu0 /dev/nvme0n1)
 *
 * Three measurements, each in alternating rounds (ours, NVMe, ours, ...) so
 * that a noisy host slows both alike:
 *   qd1:  round trip at queue depth 1: a NOP through our ring vs a 4 KiB
 *         O_DIRECT pread from the namespace (median over all commands);
 *   d32:  commands/s at depth 32: one batch of 32 NOPs (one doorbell) vs 32
 *         4 KiB O_DIRECT reads in flight (Linux AIO: one io_submit, then
 *         io_getevents for all 32; median of the rounds' rates);
 *   r16m: bytes/s of a 16 MiB READ from device memory into a user buffer vs
 *         a 16 MiB O_DIRECT pread from the namespace (best of the rounds).
 * Prints one line "E2E-PERF nvme key=value ..." (ratios are ours / NVMe's
 * time, resp. rate), or "E2E-PERF-ERROR nvme ..." and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vgpu.h"

/* Under TCG one command costs 0.1-100 ms, so rounds are time slices, not
 * counts (at least one command each): the bench takes about 10 s whatever
 * the emulator's speed. */
enum {
  ROUNDS = 8,     /* alternating rounds per measurement */
  SLICE_MS = 150, /* per device per round */
  MAX_QD1 = 4096, /* latencies kept per device */
  DEPTH = 32,
  R16M_ROUNDS = 3,
  BLOCK = 4096,
  SPAN_BLOCKS = 16384, /* reads cycle through the first 64 MiB */
};
#define BIG (16u << 20)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double median(double* v, unsigned n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int fail(const char* what, int err) {
  printf("E2E-PERF-ERROR nvme %s: %s\n", what, strerror(err < 0 ? -err : err));
  return 1;
}

/* Linux AIO through raw syscalls (the static guest has no libaio). */
static long io_setup_(unsigned n, aio_context_t* ctx) {
  return syscall(SYS_io_setup, n, ctx);
}
static long io_submit_(aio_context_t ctx, long n, struct iocb** v) {
  return syscall(SYS_io_submit, ctx, n, v);
}
static long io_getevents_(aio_context_t ctx, long min, long max, struct io_event* ev) {
  return syscall(SYS_io_getevents, ctx, min, max, ev, NULL);
}

/* One 4 KiB O_DIRECT read at qd1; *blk walks the span so that no read is a
 * repeat of the one before. */
static int nvme_read4k(int fd, uint8_t* buf, unsigned* blk) {
  const off_t off = (off_t)(*blk % SPAN_BLOCKS) * BLOCK;
  *blk += 1;
  const ssize_t n = pread(fd, buf, BLOCK, off);
  return n == BLOCK ? 0 : (n < 0 ? errno : EIO);
}

/* 32 reads in flight: one io_submit, then wait for all 32. */
static int nvme_batch32(int fd, aio_context_t ctx, uint8_t* bufs, unsigned* blk) {
  struct iocb cbs[DEPTH];
  struct iocb* v[DEPTH];
  struct io_event ev[DEPTH];
  memset(cbs, 0, sizeof cbs);
  for (unsigned i = 0; i < DEPTH; i++) {
    cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
    cbs[i].aio_fildes = (uint32_t)fd;
    cbs[i].aio_buf = (uint64_t)(uintptr_t)(bufs + (size_t)i * BLOCK);
    cbs[i].aio_nbytes = BLOCK;
    cbs[i].aio_offset = (int64_t)(*blk % SPAN_BLOCKS) * BLOCK;
    *blk += 1;
    v[i] = &cbs[i];
  }
  if (io_submit_(ctx, DEPTH, v) != DEPTH) return errno ? errno : EIO;
  long got = 0;
  while (got < DEPTH) {
    const long r = io_getevents_(ctx, DEPTH - got, DEPTH - got, ev);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return r < 0 ? errno : EIO;
    for (long i = 0; i < r; i++)
      if (ev[i].res != BLOCK) return EIO;
    got += r;
  }
  return 0;
}

int main(int argc, char** argv) {
  const char* vdev = argc > 1 ? argv[1] : "/dev/vgpu0";
  const char* ndev = argc > 2 ? argv[2] : "/dev/nvme0n1";
  vgpu_t* g = vgpu_open(vdev);
  if (!g) return fail(vdev, errno);
  const int fd = open(ndev, O_RDONLY | O_DIRECT);
  if (fd < 0) return fail(ndev, errno);
  uint8_t* big = NULL; /* 16 MiB, page aligned (O_DIRECT) */
  if (posix_memalign((void**)&big, BLOCK, BIG)) return fail("posix_memalign", ENOMEM);
  memset(big, 1, BIG);
  aio_context_t ctx = 0;
  if (io_setup_(DEPTH, &ctx) < 0) return fail("io_setup", errno);

  /* Warm-up: first use of each path (page faults, first doorbells). */
  unsigned blk = 0;
  int err = vgpu_nop(g);
  if (!err) err = -nvme_read4k(fd, big, &blk);
  if (err) return fail("warm-up", err);

  /* qd1 */
  static double ours_qd1[MAX_QD1], nvme_qd1[MAX_QD1];
  unsigned no = 0, nn = 0;
  for (unsigned r = 0; r < ROUNDS; r++) {
    double end = now_s() + SLICE_MS / 1e3;
    do {
      const double t = now_s();
      if ((err = vgpu_nop(g))) return fail("vgpu NOP", err);
      ours_qd1[no++] = now_s() - t;
    } while (now_s() < end && no < MAX_QD1);
    end = now_s() + SLICE_MS / 1e3;
    do {
      const double t = now_s();
      if ((err = nvme_read4k(fd, big, &blk))) return fail("nvme 4 KiB pread", err);
      nvme_qd1[nn++] = now_s() - t;
    } while (now_s() < end && nn < MAX_QD1);
  }
  const unsigned qd1_ours_n = no, qd1_nvme_n = nn;
  const double o1 = median(ours_qd1, no) * 1e6, n1 = median(nvme_qd1, nn) * 1e6;

  /* depth 32: the rate over each slice, median of the rounds */
  double ours_d32[ROUNDS], nvme_d32[ROUNDS];
  unsigned d32_ours_n = 0, d32_nvme_n = 0;
  struct vgpu_cmd cmds[DEPTH];
  for (unsigned r = 0; r < ROUNDS; r++) {
    double t = now_s(), end = t + SLICE_MS / 1e3;
    unsigned b = 0;
    do {
      memset(cmds, 0, sizeof cmds); /* 32 NOPs */
      if ((err = vgpu_submit(g, cmds, DEPTH, 0))) return fail("vgpu batch of 32", err);
      b++;
    } while (now_s() < end);
    ours_d32[r] = DEPTH * b / (now_s() - t);
    d32_ours_n += b;
    t = now_s();
    end = t + SLICE_MS / 1e3;
    b = 0;
    do {
      if ((err = nvme_batch32(fd, ctx, big, &blk))) return fail("nvme 32 in flight", err);
      b++;
    } while (now_s() < end);
    nvme_d32[r] = DEPTH * b / (now_s() - t);
    d32_nvme_n += b;
  }
  const double o32 = median(ours_d32, ROUNDS), n32 = median(nvme_d32, ROUNDS);

  /* 16 MiB */
  uint64_t h = 0;
  if ((err = vgpu_alloc(g, BIG, &h))) return fail("vgpu alloc 16 MiB", err);
  if ((err = vgpu_memcpy_htod(g, h, 0, big, BIG))) return fail("vgpu WRITE 16 MiB", err);
  double best_o = 1e9, best_n = 1e9;
  for (unsigned r = 0; r < R16M_ROUNDS; r++) {
    double t = now_s();
    if ((err = vgpu_memcpy_dtoh(g, big, h, 0, BIG))) return fail("vgpu READ 16 MiB", err);
    const double to = now_s() - t;
    t = now_s();
    const ssize_t n = pread(fd, big, BIG, 0);
    if (n != (ssize_t)BIG) return fail("nvme 16 MiB pread", n < 0 ? errno : EIO);
    const double tn = now_s() - t;
    best_o = to < best_o ? to : best_o;
    best_n = tn < best_n ? tn : best_n;
  }
  vgpu_free(g, h);
  const double obw = 16 / best_o, nbw = 16 / best_n;

  printf(
      "E2E-PERF nvme qd1_ours_us=%.1f qd1_nvme_us=%.1f qd1_ratio=%.3f"
      " d32_ours_cmds_s=%.0f d32_nvme_cmds_s=%.0f d32_ratio=%.3f"
      " r16m_ours_mib_s=%.1f r16m_nvme_mib_s=%.1f r16m_ratio=%.3f"
      " rounds=%u slice_ms=%u qd1_n=%u/%u d32_batches=%u/%u r16m_best_of=%u\n",
      o1, n1, o1 / n1, o32, n32, o32 / n32, obw, nbw, obw / nbw, ROUNDS, SLICE_MS, qd1_ours_n,
      qd1_nvme_n, d32_ours_n, d32_nvme_n, R16M_ROUNDS);
  close(fd);
  vgpu_close(g);
  return 0;
}
