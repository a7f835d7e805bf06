// SPDX-License-Identifier: MIT
/*
 * vgpuctl: look at and exercise a vgpu device through libvgpu.
 *
 *   vgpuctl [-d /dev/vgpuN] info
 *   vgpuctl [-d /dev/vgpuN] ping [COUNT]
 *   vgpuctl [-d /dev/vgpuN] selftest [--shared]
 *   vgpuctl [-d /dev/vgpuN] bench [--quick]
 *
 * selftest prints one "PASS|FAIL <name> <detail>" line per check and a
 * closing "selftest: N passed, N failed"; it exits 1 if any failed.
 * --shared: other processes use the device at the same time, so the checks
 * of device-wide numbers (MEM_FREE) are left out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vgpu.h"

static const char* dev_path = "/dev/vgpu0";
static int passes, failures;

static void check(int ok, const char* name, const char* fmt, ...) {
  char detail[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  printf("%s %s %s\n", ok ? "PASS" : "FAIL", name, detail);
  fflush(stdout);
  if (ok)
    passes++;
  else
    failures++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t crc32c_sw(const void* data, size_t len) {
  const uint8_t* p = data;
  uint32_t c = ~0u;
  while (len--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
  }
  return ~c;
}

static vgpu_t* open_or_die(void) {
  vgpu_t* g = vgpu_open(dev_path);
  if (!g) {
    fprintf(stderr, "vgpuctl: %s: %s\n", dev_path, strerror(errno));
    exit(2);
  }
  return g;
}

static int cmd_info(void) {
  vgpu_t* g = open_or_die();
  struct vgpu_info in;
  if (vgpu_info(g, &in) != 0) {
    fprintf(stderr, "vgpuctl: %s\n", vgpu_last_error(g));
    return 1;
  }
  printf("device:        %s (%s)\n", dev_path, (const char*)in.bdf);
  printf("queue:         version %u.%u, status 0x%x (%s), rings %u/%u entries\n",
         in.queue_version >> 16, in.queue_version & 0xffff, in.queue_status,
         in.queue_status == 1    ? "ready"
         : (in.queue_status & 2) ? "FATAL"
                                 : "not ready",
         in.sq_entries, in.cq_entries);
  printf("indices:       SQ_HEAD %u, COMPLETIONS %u\n", in.sq_head, in.completions);
  printf("memory:        %" PRIu64 " of %" PRIu64 " bytes free (%.1f MiB used)\n",
         (uint64_t)in.mem_free, (uint64_t)in.mem_total,
         (double)(in.mem_total - in.mem_free) / 1048576.0);
  printf("handles:       %u live on the device, %u of this file\n", in.dev_handles,
         in.file_handles);
  printf("driver:        uapi %u, %" PRIu64 " interrupts, %" PRIu64 " commands, %" PRIu64
         " completions rejected, %u resets, %" PRIu64 " pages pinned\n",
         in.uapi_version, (uint64_t)in.irqs, (uint64_t)in.commands, (uint64_t)in.rejected,
         in.resets, (uint64_t)in.pinned_pages);
  vgpu_close(g);
  return 0;
}

static int cmd_ping(unsigned count) {
  vgpu_t* g = open_or_die();
  unsigned ok = 0;
  const double t0 = now_s();
  for (unsigned i = 0; i < count; i++) {
    uint64_t r = 0;
    const uint64_t x = 0x0123456789ABCDEFull + i;
    if (vgpu_ping(g, x, &r) != 0) {
      fprintf(stderr, "vgpuctl: ping: %s\n", vgpu_last_error(g));
      break;
    }
    ok += r == ~x;
  }
  const double dt = now_s() - t0;
  printf("ping: %u/%u answered correctly, %.1f us per round trip\n", ok, count,
         count ? dt * 1e6 / count : 0.0);
  vgpu_close(g);
  return ok == count ? 0 : 1;
}

/* ---- selftest ----------------------------------------------------------- */

static int raw_submit(int fd, struct vgpu_submit* s) {
  return ioctl(fd, VGPU_IOC_SUBMIT, s) == 0 ? 0 : -errno;
}

/* One raw command whose ioctl must fail with `want`. */
static void bad_cmd(vgpu_t* g, const char* name, struct vgpu_cmd c, int want) {
  struct vgpu_submit s = {.cmds = (uintptr_t)&c, .count = 1};
  const int got = raw_submit(vgpu_fd(g), &s);
  check(got == want, name, "ioctl -> %d (%s), want %d (%s)", got, strerror(-got), want,
        strerror(-want));
}

/* One command that reaches the driver's translation or the device and must
 * complete with error `want` (and, if st >= 0, device status st). */
static void bad_op(vgpu_t* g, const char* name, struct vgpu_cmd c, int want, int st) {
  const int got = vgpu_submit(g, &c, 1, 0);
  check(got == want && (st < 0 || c.status == (uint32_t)st), name,
        "-> %d (%s), status %s; want %d (%s)%s%s", got, strerror(-got), vgpu_status_name(c.status),
        want, strerror(-want), st >= 0 ? ", " : "", st >= 0 ? vgpu_status_name((uint32_t)st) : "");
}

static void selftest_ops(vgpu_t* g, int shared) {
  struct vgpu_info i0, i1;
  int err = vgpu_info(g, &i0);
  check(!err && i0.queue_version == 0x00010000u && i0.queue_status == 1, "info",
        "queue version 0x%08x status 0x%x, MEM_TOTAL %" PRIu64 ", %s", i0.queue_version,
        i0.queue_status, (uint64_t)i0.mem_total, (const char*)i0.bdf);
  check(vgpu_nop(g) == 0, "nop", "%s", vgpu_last_error(g));
  uint64_t r = 0;
  err = vgpu_ping(g, 0x0123456789ABCDEFull, &r);
  check(!err && r == ~0x0123456789ABCDEFull, "ping", "result 0x%016" PRIx64, r);

  /* A batch of 32 PINGs: one ioctl, one doorbell. */
  struct vgpu_cmd batch[32];
  memset(batch, 0, sizeof batch);
  for (unsigned k = 0; k < 32; k++) batch[k].opcode = VGPU_OP_PING, batch[k].args[0] = k;
  err = vgpu_submit(g, batch, 32, 0);
  unsigned right = 0;
  for (unsigned k = 0; k < 32; k++) right += batch[k].result == ~(uint64_t)k;
  check(!err && right == 32, "ping-batch", "32 PINGs in one ioctl: %u right", right);

  const size_t n = 64 << 10;
  uint8_t* src = malloc(n);
  uint8_t* dst = malloc(n + 8);
  for (size_t k = 0; k < n; k++) src[k] = (uint8_t)(k * 131 + (k >> 8));
  uint64_t a = 0, b = 0;
  err = vgpu_alloc(g, n, &a);
  if (!err) err = vgpu_alloc(g, n, &b);
  struct vgpu_info ia;
  vgpu_info(g, &ia);
  check(!err && a && b && a != b && ia.file_handles == 2 &&
            (shared || ia.mem_free == i0.mem_free - 2 * n),
        "alloc",
        "handles %" PRIu64 " %" PRIu64 ", file handles %u, MEM_FREE %" PRIu64 " -> %" PRIu64, a, b,
        ia.file_handles, (uint64_t)i0.mem_free, (uint64_t)ia.mem_free);

  memset(dst, 0xAA, n + 8);
  err = vgpu_memcpy_dtoh(g, dst, a, 0, n);
  size_t nz = 0;
  for (size_t k = 0; k < n; k++) nz += dst[k] != 0;
  check(!err && nz == 0, "alloc-zeroed", "%zu non-zero bytes in a fresh allocation", nz);

  err = vgpu_memcpy_htod(g, a, 0, src, n);
  /* Unaligned user buffer: read into dst + 3. */
  if (!err) err = vgpu_memcpy_dtoh(g, dst + 3, a, 0, n);
  check(!err && memcmp(src, dst + 3, n) == 0, "write-read",
        "64 KiB round trip (unaligned user buffer): %s", err ? vgpu_last_error(g) : "equal");

  err = vgpu_fill(g, b, 0, n, 0xC0FFEE11u);
  if (!err) err = vgpu_memcpy_dtoh(g, dst, b, 0, n);
  uint32_t w0 = 0, wl = 0;
  memcpy(&w0, dst, 4);
  memcpy(&wl, dst + n - 4, 4);
  check(!err && w0 == 0xC0FFEE11u && wl == 0xC0FFEE11u, "fill", "first 0x%08x last 0x%08x", w0, wl);

  err = vgpu_copy(g, b, 4096, a, 100, 8192);
  if (!err) err = vgpu_memcpy_dtoh(g, dst, b, 4096, 8192);
  check(!err && memcmp(dst, src + 100, 8192) == 0, "copy", "8 KiB a+100 -> b+4096: %s",
        err ? vgpu_last_error(g) : "equal");

  uint32_t crc = 0;
  err = vgpu_memcpy_htod(g, a, 0, "123456789", 9);
  if (!err) err = vgpu_crc32c(g, a, 0, 9, &crc);
  check(!err && crc == 0xE3069283u, "crc32c-check",
        "CRC32C(\"123456789\") = 0x%08x (want 0xe3069283)", crc);
  err = vgpu_memcpy_htod(g, a, 0, src, n);
  if (!err) err = vgpu_crc32c(g, a, 0, n, &crc);
  check(!err && crc == crc32c_sw(src, n), "crc32c", "64 KiB: device 0x%08x, software 0x%08x", crc,
        crc32c_sw(src, n));

  enum { NF = 4096 };
  float* x = malloc(NF * 4);
  float* y = malloc(NF * 4);
  float* want = malloc(NF * 4);
  for (unsigned k = 0; k < NF; k++) {
    x[k] = (float)k * 0.5f;
    y[k] = 1.0f + (float)(k % 7);
    want[k] = 2.5f * x[k] + y[k];
  }
  uint64_t hx = 0, hy = 0;
  err = vgpu_alloc(g, NF * 4, &hx);
  if (!err) err = vgpu_alloc(g, NF * 4, &hy);
  if (!err) err = vgpu_memcpy_htod(g, hx, 0, x, NF * 4);
  if (!err) err = vgpu_memcpy_htod(g, hy, 0, y, NF * 4);
  if (!err) err = vgpu_saxpy(g, hx, hy, NF, 2.5f);
  if (!err) err = vgpu_synchronize(g);
  if (!err) err = vgpu_memcpy_dtoh(g, y, hy, 0, NF * 4);
  unsigned wrong = 0;
  for (unsigned k = 0; k < NF; k++) wrong += y[k] != want[k];
  check(!err && wrong == 0, "saxpy", "y = 2.5 x + y over %u floats: %u wrong (%s)", NF, wrong,
        err ? vgpu_last_error(g) : "ok");
  vgpu_free(g, hx);
  vgpu_free(g, hy);

  /* 8 MiB: 2048 pages, more than one device scatter list unless the pages
   * happen to be contiguous. */
  /* (--shared: several run at once in the e2e guest under emulation, so
   * each moves 2 MiB: 512 pages, still likely more than one list.) */
  const size_t big = shared ? 2u << 20 : 8u << 20;
  uint8_t* bs = malloc(big);
  uint8_t* bd = malloc(big);
  for (size_t k = 0; k < big; k++) bs[k] = (uint8_t)(k ^ (k >> 11));
  uint64_t hb = 0;
  err = vgpu_alloc(g, big, &hb);
  if (!err) err = vgpu_memcpy_htod(g, hb, 0, bs, big);
  memset(bd, 0, big);
  if (!err) err = vgpu_memcpy_dtoh(g, bd, hb, 0, big);
  check(!err && memcmp(bs, bd, big) == 0, "write-read-big", "%zu MiB round trip: %s", big >> 20,
        err ? vgpu_last_error(g) : "equal");
  vgpu_free(g, hb);
  free(bs);
  free(bd);

  /* ---- errors the device reports ---- */
  bad_op(g, "err.over-quota",
         (struct vgpu_cmd){.opcode = VGPU_OP_ALLOC, .args = {i0.mem_total + 4096}}, -ENOMEM,
         VGPU_ST_NO_MEMORY);
  bad_op(g, "err.alloc-zero", (struct vgpu_cmd){.opcode = VGPU_OP_ALLOC, .args = {0}}, -EINVAL,
         VGPU_ST_INVALID_FIELD);
  bad_op(g, "err.out-of-range",
         (struct vgpu_cmd){.opcode = VGPU_OP_READ, .args = {a, n - 8, 16, (uintptr_t)dst}}, -ERANGE,
         VGPU_ST_OUT_OF_RANGE);
  bad_op(g, "err.fill-unaligned", (struct vgpu_cmd){.opcode = VGPU_OP_FILL, .args = {a, 0, 6, 1}},
         -EINVAL, VGPU_ST_INVALID_FIELD);
  bad_op(g, "err.crc-range", (struct vgpu_cmd){.opcode = VGPU_OP_CRC32C, .args = {a, n, 1}},
         -ERANGE, VGPU_ST_OUT_OF_RANGE);
  /* ---- errors the driver catches (nothing reaches the device) ---- */
  bad_op(g, "err.bad-handle", (struct vgpu_cmd){.opcode = VGPU_OP_FREE, .args = {0x7ffffff0}},
         -EBADF, -1);
  bad_op(g, "err.handle-zero", (struct vgpu_cmd){.opcode = VGPU_OP_FILL, .args = {0, 0, 4, 1}},
         -EBADF, -1);
  bad_op(g, "err.handle-64bit",
         (struct vgpu_cmd){.opcode = VGPU_OP_CRC32C, .args = {a | 1ull << 40, 0, 4}}, -EBADF, -1);
  bad_op(g, "err.copy-bad-dst",
         (struct vgpu_cmd){.opcode = VGPU_OP_COPY, .args = {a, 0, 0x7ffffff1, 0, 4}}, -EBADF, -1);
  vgpu_t* other = vgpu_open(dev_path);
  uint64_t ho = 0;
  err = other ? vgpu_alloc(other, 4096, &ho) : -errno;
  check(!err && ho, "other-file.alloc", "second open file allocated handle %" PRIu64, ho);
  bad_op(g, "err.other-files-handle",
         (struct vgpu_cmd){.opcode = VGPU_OP_READ, .args = {ho, 0, 16, (uintptr_t)dst}}, -EBADF,
         -1);
  bad_op(g, "err.free-other-files-handle", (struct vgpu_cmd){.opcode = VGPU_OP_FREE, .args = {ho}},
         -EBADF, -1);
  uint32_t c2 = 1;
  err = other ? vgpu_crc32c(other, ho, 0, 16, &c2) : -1;
  check(!err, "other-file.still-valid", "its owner still uses handle %" PRIu64 " (crc 0x%08x)", ho,
        c2);
  struct vgpu_info ib;
  vgpu_info(g, &ib);
  if (other) vgpu_close(other); /* frees ho */
  struct vgpu_info ic;
  vgpu_info(g, &ic);
  check(shared || ic.mem_free == ib.mem_free + 4096, "close-frees",
        "closing the other file: MEM_FREE %" PRIu64 " -> %" PRIu64, (uint64_t)ib.mem_free,
        (uint64_t)ic.mem_free);

  /* User memory the driver cannot pin. */
  void* ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  void* none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  bad_op(g, "err.read-into-readonly",
         (struct vgpu_cmd){.opcode = VGPU_OP_READ, .args = {a, 0, 16, (uintptr_t)ro}}, -EFAULT, -1);
  bad_op(g, "err.write-from-prot-none",
         (struct vgpu_cmd){.opcode = VGPU_OP_WRITE, .args = {a, 0, 16, (uintptr_t)none}}, -EFAULT,
         -1);
  bad_op(g, "err.write-from-null",
         (struct vgpu_cmd){.opcode = VGPU_OP_WRITE, .args = {a, 0, 16, 0}}, -EFAULT, -1);
  bad_op(g, "err.write-from-kernel",
         (struct vgpu_cmd){.opcode = VGPU_OP_WRITE, .args = {a, 0, 16, 0xffffffff81000000ull}},
         -EFAULT, -1);
  bad_op(g, "err.write-wraps",
         (struct vgpu_cmd){.opcode = VGPU_OP_WRITE, .args = {a, 0, 4096, 0xfffffffffffff800ull}},
         -EFAULT, -1);
  munmap(ro, 4096);
  munmap(none, 4096);

  /* ---- bad ioctl arguments ---- */
  const int fd = vgpu_fd(g);
  struct vgpu_cmd ok = {.opcode = VGPU_OP_NOP};
  struct vgpu_submit s = {.cmds = (uintptr_t)&ok, .count = 0};
  err = raw_submit(fd, &s);
  check(err == -EINVAL, "ioctl.count-zero", "-> %d", err);
  s.count = VGPU_MAX_BATCH + 1;
  err = raw_submit(fd, &s);
  check(err == -EINVAL, "ioctl.count-too-big", "-> %d", err);
  s.count = 1;
  s.flags = 1;
  err = raw_submit(fd, &s);
  check(err == -EINVAL, "ioctl.flags", "-> %d", err);
  s.flags = 0;
  s.timeout_ms = 600001;
  err = raw_submit(fd, &s);
  check(err == -EINVAL, "ioctl.timeout", "-> %d", err);
  s.timeout_ms = 0;
  s.cmds = 0;
  err = raw_submit(fd, &s);
  check(err == -EFAULT, "ioctl.null-cmds", "-> %d", err);
  s.cmds = 0xffffffff81000000ull;
  err = raw_submit(fd, &s);
  check(err == -EFAULT, "ioctl.kernel-cmds", "-> %d", err);
  err = ioctl(fd, VGPU_IOC_SUBMIT, NULL) == 0 ? 0 : -errno;
  check(err == -EFAULT, "ioctl.null-arg", "-> %d", err);
  err = ioctl(fd, VGPU_IOC_INFO, (void*)8) == 0 ? 0 : -errno;
  check(err == -EFAULT, "ioctl.info-bad-arg", "-> %d", err);
  err = ioctl(fd, _IO('V', 0x7f), 0) == 0 ? 0 : -errno;
  check(err == -ENOTTY, "ioctl.unknown", "-> %d", err);
  bad_cmd(g, "ioctl.cmd-flags", (struct vgpu_cmd){.opcode = VGPU_OP_NOP, .flags = 1}, -EINVAL);
  bad_cmd(g, "ioctl.cmd-reserved", (struct vgpu_cmd){.opcode = VGPU_OP_NOP, .reserved = 1},
          -EINVAL);
  bad_cmd(g, "ioctl.cmd-reserved2", (struct vgpu_cmd){.opcode = VGPU_OP_NOP, .reserved2 = 1},
          -EINVAL);
  bad_cmd(g, "ioctl.cmd-opcode", (struct vgpu_cmd){.opcode = 0x7f}, -EINVAL);
  bad_cmd(g, "ioctl.read-length-zero",
          (struct vgpu_cmd){.opcode = VGPU_OP_READ, .args = {a, 0, 0, (uintptr_t)dst}}, -EINVAL);
  bad_cmd(g, "ioctl.read-length-too-big",
          (struct vgpu_cmd){.opcode = VGPU_OP_READ,
                            .args = {a, 0, VGPU_MAX_TRANSFER + 1, (uintptr_t)dst}},
          -EINVAL);
  /* A bad command in the middle of a batch: nothing of it runs. */
  struct vgpu_cmd mix[3] = {{.opcode = VGPU_OP_FILL, .args = {a, 0, 4, 0x11111111}},
                            {.opcode = VGPU_OP_FREE, .args = {0x7ffffff2}},
                            {.opcode = VGPU_OP_FILL, .args = {a, 0, 4, 0x22222222}}};
  s = (struct vgpu_submit){.cmds = (uintptr_t)mix, .count = 3};
  err = raw_submit(fd, &s);
  uint32_t first = 0;
  vgpu_memcpy_dtoh(g, &first, a, 0, 4);
  check(err == -EBADF && mix[1].error == -EBADF && mix[0].status == VGPU_ST_NOT_RUN &&
            first != 0x11111111u,
        "batch-all-or-nothing", "ioctl %d, cmd1 error %d, cmd0 %s, word 0x%08x", err, mix[1].error,
        vgpu_status_name(mix[0].status), first);

  /* Double free and use after free. */
  err = vgpu_free(g, b);
  check(err == 0, "free", "%s", err ? vgpu_last_error(g) : "ok");
  bad_op(g, "err.double-free", (struct vgpu_cmd){.opcode = VGPU_OP_FREE, .args = {b}}, -EBADF, -1);
  bad_op(g, "err.use-after-free", (struct vgpu_cmd){.opcode = VGPU_OP_FILL, .args = {b, 0, 4, 1}},
         -EBADF, -1);
  vgpu_free(g, a);
  vgpu_info(g, &i1);
  check(i1.file_handles == 0 && i1.rejected == 0 && (shared || i1.mem_free == i0.mem_free),
        "balance",
        "file handles %u, MEM_FREE %" PRIu64 " (was %" PRIu64 "), rejected completions %" PRIu64,
        i1.file_handles, (uint64_t)i1.mem_free, (uint64_t)i0.mem_free, (uint64_t)i1.rejected);
  check(i1.irqs > i0.irqs, "interrupts", "%" PRIu64 " -> %" PRIu64 " interrupts over the selftest",
        (uint64_t)i0.irqs, (uint64_t)i1.irqs);
  free(src);
  free(dst);
  free(x);
  free(y);
  free(want);
}

static int cmd_selftest(int shared) {
  vgpu_t* g = open_or_die();
  selftest_ops(g, shared);
  vgpu_close(g);
  printf("selftest: %d passed, %d failed\n", passes, failures);
  return failures ? 1 : 0;
}

/* ---- bench --------------------------------------------------------------- */

static int cmp_double(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static int cmd_bench(int quick) {
  vgpu_t* g = open_or_die();
  const unsigned iters = quick ? 50 : 2000;
  double* lat = calloc(iters, sizeof *lat);
  int err = 0;
  for (unsigned i = 0; i < iters && !err; i++) {
    const double t = now_s();
    err = vgpu_nop(g);
    lat[i] = now_s() - t;
  }
  qsort(lat, iters, sizeof *lat, cmp_double);
  printf("BENCH nop_qd1_us=%.1f nop_qd1_p90_us=%.1f iterations=%u\n", lat[iters / 2] * 1e6,
         lat[iters * 9 / 10] * 1e6, iters);
  for (unsigned depth = 32; depth <= 64 && !err; depth *= 2) {
    struct vgpu_cmd cmds[VGPU_MAX_BATCH];
    const unsigned batches = quick ? 5 : 200;
    const double t = now_s();
    for (unsigned k = 0; k < batches && !err; k++) {
      memset(cmds, 0, sizeof cmds);
      err = vgpu_submit(g, cmds, depth, 0);
    }
    const double dt = now_s() - t;
    printf("BENCH nop_depth%u_cmds_per_s=%.0f batches=%u\n", depth, depth * batches / dt, batches);
  }
  const size_t len = 16u << 20;
  uint8_t* buf = malloc(len);
  memset(buf, 1, len);
  uint64_t h = 0;
  if (!err) err = vgpu_alloc(g, len, &h);
  if (!err) err = vgpu_memcpy_htod(g, h, 0, buf, len); /* warms the device's mappings */
  const unsigned reps = quick ? 1 : 5;
  double best_r = 1e9, best_w = 1e9;
  for (unsigned k = 0; k < reps && !err; k++) {
    double t = now_s();
    err = vgpu_memcpy_dtoh(g, buf, h, 0, len);
    best_r = fmin(best_r, now_s() - t);
    t = now_s();
    if (!err) err = vgpu_memcpy_htod(g, h, 0, buf, len);
    best_w = fmin(best_w, now_s() - t);
  }
  if (h) vgpu_free(g, h);
  if (!err)
    printf("BENCH read16m_mib_s=%.1f write16m_mib_s=%.1f best_of=%u\n", 16 / best_r, 16 / best_w,
           reps);
  free(buf);
  free(lat);
  if (err) fprintf(stderr, "vgpuctl: bench: %s\n", vgpu_last_error(g));
  vgpu_close(g);
  return err ? 1 : 0;
}

static int usage(void) {
  fprintf(
      stderr,
      "usage: vgpuctl [-d DEVICE] info | ping [COUNT] | selftest [--shared] | bench [--quick]\n");
  return 2;
}

int main(int argc, char** argv) {
  int a = 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (a + 1 < argc && strcmp(argv[a], "-d") == 0) {
    dev_path = argv[a + 1];
    a += 2;
  }
  if (a >= argc) return usage();
  const char* cmd = argv[a];
  const char* opt = a + 1 < argc ? argv[a + 1] : "";
  if (strcmp(cmd, "info") == 0) return cmd_info();
  if (strcmp(cmd, "ping") == 0) {
    const unsigned long n = *opt ? strtoul(opt, NULL, 0) : 1;
    return cmd_ping(n == 0 || n > 10000000 ? 1 : (unsigned)n);
  }
  if (strcmp(cmd, "selftest") == 0) return cmd_selftest(strcmp(opt, "--shared") == 0);
  if (strcmp(cmd, "bench") == 0) return cmd_bench(strcmp(opt, "--quick") == 0);
  return usage();
}
