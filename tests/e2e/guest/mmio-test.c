/*
 * Guest-side MMIO check for the vgpu-ioreqd e2e test (check 2).
 *
 * Runs inside the HVM guest (static binary in its initramfs), maps BAR0 of
 * the vGPU stub through sysfs and exercises the register file. Prints one
 * "E2E-RESULT PASS|FAIL mmio.[LABEL.]<name> <detail>" line per check and
 * exits non-zero if any failed. Every wait is bounded.
 *
 *   mmio-test [SYSFS-DEVICE-DIR [LABEL]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "device_access.h"

enum {
  REG_COMMAND = 0x000,
  REG_STATUS = 0x004,
  REG_DATA_OFFSET = 0x008,
  REG_DATA_LENGTH = 0x00c,
  REG_REQUEST_ID = 0x010,
  REG_DATA = 0x020,
  DATA_END = 0x400,
};
enum { CMD_NOP = 0, CMD_PING = 1 };
enum { ST_IDLE = 0, ST_BUSY = 1, ST_DONE = 2, ST_ERROR = 3 };
#define PING_MAGIC 0x55504756u /* "VGPU" little-endian */

static int failures;
static const char* label = "";      /* e.g. "cpu1." when pinned to a vCPU */
static const char* label_raw = "-"; /* the same without the dot */

static void result(int ok, const char* name, const char* fmt, ...) {
  char detail[256] = "";
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
  }
  printf("E2E-RESULT %s mmio.%s%s %s\n", ok ? "PASS" : "FAIL", label, name, detail);
  fflush(stdout);
  if (!ok) failures++;
}

/* Polls STATUS until it leaves IDLE/BUSY; bounded by timeout_s. */
static uint32_t wait_status(double timeout_s, double* elapsed) {
  double start = now_s();
  uint32_t st;
  for (;;) {
    st = rd32(REG_STATUS);
    if (st != ST_BUSY && st != ST_IDLE) break;
    if (now_s() - start > timeout_s) break;
    usleep(1000);
  }
  *elapsed = now_s() - start;
  return st;
}

static void run_command(const char* name, uint32_t cmd, uint32_t req_id, uint32_t want_status) {
  double el;
  wr32(REG_REQUEST_ID, req_id);
  wr32(REG_COMMAND, cmd);
  uint32_t st = wait_status(10.0, &el);
  result(st == want_status, name, "command=0x%x status=%" PRIu32 " want=%" PRIu32 " after %.3fs",
         cmd, st, want_status, el);
}

static int write_sysfs(const char* path, const char* val) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, val, strlen(val));
  int err = n < 0 ? -errno : 0;
  close(fd);
  return err;
}

int main(int argc, char** argv) {
  const char* dev = argc > 1 ? argv[1] : "/sys/bus/pci/devices/0000:00:05.0";
  char path[512], lbl[64];
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc > 2) {
    snprintf(lbl, sizeof lbl, "%s.", argv[2]);
    label = lbl;
    label_raw = argv[2];
  }

  /* Make sure Memory Space decoding is on (hvmloader enables it; a driverless
   * device keeps it, but "enable" is the documented way to request it). */
  snprintf(path, sizeof path, "%s/enable", dev);
  int err = write_sysfs(path, "1");
  if (err) printf("note: writing %s: %s\n", path, strerror(-err));

  const char* step;
  err = map_bar0(dev, path, sizeof path, &step);
  if (err) {
    result(0, step, "%s: %s", path, strerror(-err));
    return 1;
  }
  result(1, "mmap", "%s mapped %u bytes, running on CPU %d", path, E2E_BAR0_SIZE, sched_getcpu());

  /* --- PING round trip ------------------------------------------------ */
  double t0 = now_s();
  const uint32_t req = 0xC0DE0000u | (uint32_t)(getpid() & 0xffff);
  wr32(REG_DATA + 0, 0);
  wr32(REG_DATA + 4, 0);
  wr32(REG_DATA_OFFSET, 0);
  wr32(REG_DATA_LENGTH, 0);
  run_command("ping.status", CMD_PING, req, ST_DONE);
  uint32_t magic = rd32(REG_DATA + 0), echoed = rd32(REG_DATA + 4);
  uint32_t rid = rd32(REG_REQUEST_ID);
  result(magic == PING_MAGIC, "ping.magic", "DATA+0=0x%08" PRIx32 " want 0x%08x", magic,
         PING_MAGIC);
  result(echoed == req, "ping.request_id", "DATA+4=0x%08" PRIx32 " want 0x%08" PRIx32, echoed, req);
  result(rid == req, "request_id.readback", "REQUEST_ID=0x%08" PRIx32 " want 0x%08" PRIx32, rid,
         req);
  /* A second PING with another id: the echo must follow the new request. */
  run_command("ping2.status", CMD_PING, req ^ 0x00ff00ffu, ST_DONE);
  echoed = rd32(REG_DATA + 4);
  result(echoed == (req ^ 0x00ff00ffu), "ping2.request_id", "DATA+4=0x%08" PRIx32, echoed);
  run_command("nop.status", CMD_NOP, req, ST_DONE);
  run_command("unknown.status", 0x77, req, ST_ERROR);
  double t_ping = now_s() - t0;

  /* --- DATA region at widths 1/2/4/8 --------------------------------- */
  t0 = now_s();
  {
    int ok = 1;
    unsigned bad = 0;
    for (unsigned i = 0; i < 16; i++) wr8(0x100 + i, (uint8_t)(0xa0 + i * 7));
    for (unsigned i = 0; i < 16 && ok; i++)
      if (rd8(0x100 + i) != (uint8_t)(0xa0 + i * 7)) ok = 0, bad = 0x100 + i;
    result(ok, "data.width1", ok ? "16 bytes at 0x100" : "mismatch at 0x%x", bad);
  }
  {
    int ok = 1;
    unsigned bad = 0;
    for (unsigned i = 0; i < 8; i++) wr16(0x120 + 2 * i, (uint16_t)(0xbe00 + i * 0x1111));
    for (unsigned i = 0; i < 8 && ok; i++)
      if (rd16(0x120 + 2 * i) != (uint16_t)(0xbe00 + i * 0x1111)) ok = 0, bad = 0x120 + 2 * i;
    result(ok, "data.width2", ok ? "8 halfwords at 0x120" : "mismatch at 0x%x", bad);
  }
  {
    int ok = 1;
    unsigned bad = 0;
    for (unsigned i = 0; i < 8; i++) wr32(0x140 + 4 * i, 0xdead0000u + i * 0x01010101u);
    for (unsigned i = 0; i < 8 && ok; i++)
      if (rd32(0x140 + 4 * i) != 0xdead0000u + i * 0x01010101u) ok = 0, bad = 0x140 + 4 * i;
    result(ok, "data.width4", ok ? "8 words at 0x140" : "mismatch at 0x%x", bad);
  }
  {
    int ok = 1;
    unsigned bad = 0;
    uint64_t got = 0;
    for (unsigned i = 0; i < 4; i++)
      wr64(0x180 + 8 * i, 0x0123456789abcdefull ^ ((uint64_t)i << 56));
    for (unsigned i = 0; i < 4 && ok; i++)
      if ((got = rd64(0x180 + 8 * i)) != (0x0123456789abcdefull ^ ((uint64_t)i << 56)))
        ok = 0, bad = 0x180 + 8 * i;
    result(ok, "data.width8", ok ? "4 quadwords at 0x180" : "mismatch at 0x%x read 0x%016" PRIx64,
           bad, got);
  }
  {
    /* Mixed widths: bytes written, word read back little-endian. */
    wr8(0x1c0, 0x11);
    wr8(0x1c1, 0x22);
    wr8(0x1c2, 0x33);
    wr8(0x1c3, 0x44);
    uint32_t w = rd32(0x1c0);
    result(w == 0x44332211u, "data.little_endian", "bytes 11 22 33 44 read as 0x%08" PRIx32, w);
    wr32(0x3fc, 0xfeedf00du); /* last word of the DATA region */
    uint32_t last = rd32(0x3fc);
    result(last == 0xfeedf00du, "data.last_word", "0x3fc=0x%08" PRIx32, last);
  }
  double t_data = now_s() - t0;

  /* --- reserved registers read 0 -------------------------------------- */
  t0 = now_s();
  {
    int ok = 1;
    unsigned bad = 0;
    uint32_t v = 0;
    for (unsigned off = 0x014; off < 0x020 && ok; off += 4) {
      wr32(off, 0xffffffffu);
      if ((v = rd32(off)) != 0) ok = 0, bad = off;
    }
    result(ok, "reserved.low", ok ? "0x014-0x01f read 0 after writes" : "0x%x read 0x%08" PRIx32,
           bad, v);
  }
  {
    int ok = 1;
    unsigned bad = 0, n = 0;
    uint64_t v = 0;
    /* 0x400-0x47f are the command queue's registers (queue-test checks
     * them); the reserved tail starts at 0x480. */
    wr32(0x480, 0xffffffffu);
    wr32(0x800, 0x12345678u);
    wr64(0xff8, ~0ull);
    for (unsigned off = 0x480; off < E2E_BAR0_SIZE && ok; off += 0x40, n++)
      if ((v = rd32(off)) != 0) ok = 0, bad = off;
    if (ok && (v = rd64(0xff8)) != 0) ok = 0, bad = 0xff8;
    if (ok && (v = rd8(0xfff)) != 0) ok = 0, bad = 0xfff;
    if (ok && (v = rd16(0x7fe)) != 0) ok = 0, bad = 0x7fe;
    result(ok, "reserved.high",
           ok ? "0x480-0xfff: %u sampled reads at widths 1/2/4/8 returned 0"
              : "0x%x read 0x%" PRIx64 " (sample %u)",
           ok ? n + 3 : bad, v, n);
  }
  double t_res = now_s() - t0;

  printf("E2E-TIMING mmio %s ping=%.3fs data=%.3fs reserved=%.3fs\n", label_raw, t_ping, t_data,
         t_res);
  munmap((void*)bar, E2E_BAR0_SIZE);
  return failures ? 1 : 0;
}
