// SPDX-License-Identifier: MIT
/* libvgpu: see vgpu.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vgpu.h"

struct vgpu {
  int fd;
  char msg[256];
};

static int fail(vgpu_t* g, int err, const char* fmt, ...) {
  va_list ap;
  char what[160];
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(g->msg, sizeof g->msg, "%s: %s", what, strerror(-err));
  errno = -err;
  return err;
}

vgpu_t* vgpu_open(const char* path) {
  vgpu_t* g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->fd = open(path ? path : "/dev/vgpu0", O_RDWR | O_CLOEXEC);
  if (g->fd < 0) {
    const int e = errno;
    free(g);
    errno = e;
    return NULL;
  }
  return g;
}

void vgpu_close(vgpu_t* g) {
  if (!g) return;
  close(g->fd);
  free(g);
}

int vgpu_fd(const vgpu_t* g) {
  return g->fd;
}

const char* vgpu_last_error(const vgpu_t* g) {
  return g->msg[0] ? g->msg : "no error";
}

const char* vgpu_status_name(uint32_t status) {
  static const char* const names[] = {"SUCCESS",         "INVALID_OPCODE", "INVALID_FIELD",
                                      "INVALID_ADDRESS", "NO_MEMORY",      "INVALID_HANDLE",
                                      "OUT_OF_RANGE",    "ABORTED"};
  if (status < sizeof names / sizeof names[0]) return names[status];
  return status == VGPU_ST_NOT_RUN ? "NOT_RUN" : "UNKNOWN";
}

int vgpu_info(vgpu_t* g, struct vgpu_info* out) {
  if (ioctl(g->fd, VGPU_IOC_INFO, out) != 0) return fail(g, -errno, "VGPU_IOC_INFO");
  return 0;
}

int vgpu_submit(vgpu_t* g, struct vgpu_cmd* cmds, unsigned n, unsigned timeout_ms) {
  struct vgpu_submit s = {.cmds = (uintptr_t)cmds, .count = n, .timeout_ms = timeout_ms};
  if (ioctl(g->fd, VGPU_IOC_SUBMIT, &s) != 0) return fail(g, -errno, "VGPU_IOC_SUBMIT of %u", n);
  for (unsigned i = 0; i < n; i++)
    if (cmds[i].error)
      return fail(g, cmds[i].error, "command %u (opcode 0x%02x): device status %s", i,
                  cmds[i].opcode, vgpu_status_name(cmds[i].status));
  return 0;
}

/* One command, synchronously. */
static int run1(vgpu_t* g, uint8_t op, uint64_t* result, uint64_t a0, uint64_t a1, uint64_t a2,
                uint64_t a3, uint64_t a4) {
  struct vgpu_cmd c = {.opcode = op, .args = {a0, a1, a2, a3, a4, 0}};
  const int err = vgpu_submit(g, &c, 1, 0);
  if (!err && result) *result = c.result;
  return err;
}

int vgpu_nop(vgpu_t* g) {
  return run1(g, VGPU_OP_NOP, NULL, 0, 0, 0, 0, 0);
}

int vgpu_ping(vgpu_t* g, uint64_t x, uint64_t* not_x) {
  return run1(g, VGPU_OP_PING, not_x, x, 0, 0, 0, 0);
}

int vgpu_alloc(vgpu_t* g, uint64_t bytes, uint64_t* handle) {
  return run1(g, VGPU_OP_ALLOC, handle, bytes, 0, 0, 0, 0);
}

int vgpu_free(vgpu_t* g, uint64_t handle) {
  return run1(g, VGPU_OP_FREE, NULL, handle, 0, 0, 0, 0);
}

static int transfer(vgpu_t* g, uint8_t op, uint64_t h, uint64_t off, uintptr_t buf, size_t len) {
  while (len > 0) {
    const uint64_t n = len < VGPU_MAX_TRANSFER ? len : VGPU_MAX_TRANSFER;
    uint64_t moved = 0;
    const int err = run1(g, op, &moved, h, off, n, buf, 0);
    if (err) return err;
    if (moved != n)
      return fail(g, -EIO, "transfer moved %llu of %llu bytes", (unsigned long long)moved,
                  (unsigned long long)n);
    off += n;
    buf += n;
    len -= n;
  }
  return 0;
}

int vgpu_memcpy_htod(vgpu_t* g, uint64_t dst, uint64_t dst_off, const void* src, size_t len) {
  return transfer(g, VGPU_OP_WRITE, dst, dst_off, (uintptr_t)src, len);
}

int vgpu_memcpy_dtoh(vgpu_t* g, void* dst, uint64_t src, uint64_t src_off, size_t len) {
  return transfer(g, VGPU_OP_READ, src, src_off, (uintptr_t)dst, len);
}

int vgpu_fill(vgpu_t* g, uint64_t h, uint64_t off, uint64_t len, uint32_t pattern) {
  return run1(g, VGPU_OP_FILL, NULL, h, off, len, pattern, 0);
}

int vgpu_copy(vgpu_t* g, uint64_t dst, uint64_t dst_off, uint64_t src, uint64_t src_off,
              uint64_t len) {
  return run1(g, VGPU_OP_COPY, NULL, src, src_off, dst, dst_off, len);
}

int vgpu_saxpy(vgpu_t* g, uint64_t x, uint64_t y, uint64_t n, float a) {
  uint32_t bits;
  memcpy(&bits, &a, sizeof bits);
  return run1(g, VGPU_OP_SAXPY, NULL, x, y, n, bits, 0);
}

int vgpu_crc32c(vgpu_t* g, uint64_t h, uint64_t off, uint64_t len, uint32_t* crc) {
  uint64_t r = 0;
  const int err = run1(g, VGPU_OP_CRC32C, &r, h, off, len, 0, 0);
  if (!err && crc) *crc = (uint32_t)r;
  return err;
}

int vgpu_synchronize(vgpu_t* g) {
  /* Completions come in submission order: a NOP's return means everything
   * before it is done. */
  return vgpu_nop(g);
}
