/*
 * Guest-side check of the command queue for the vgpu-ioreqd e2e test, with
 * no kernel driver: BAR0 through sysfs resource0, bus mastering through the
 * sysfs config file, rings and buffers in locked pages whose guest-physical
 * addresses come from /proc/self/pagemap, completions found by polling phase
 * bits. Every ring is one page, so it is physically contiguous by
 * construction. Prints one "E2E-RESULT PASS|FAIL queue.<name> <detail>" line
 * per check; exits non-zero if any failed. Every wait is bounded.
 *
 *   queue-test [SYSFS-DEVICE-DIR]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
  Q_VERSION = 0x400,
  Q_CTRL = 0x404,
  Q_STATUS = 0x408,
  Q_MAX_ENTRIES = 0x40c,
  Q_SQ_BASE = 0x410,
  Q_CQ_BASE = 0x418,
  Q_SQ_ENTRIES = 0x420,
  Q_CQ_ENTRIES = 0x424,
  Q_SQ_TAIL = 0x428,
  Q_CQ_HEAD = 0x42c,
  Q_SQ_HEAD = 0x430,
  Q_COMPLETIONS = 0x434,
  Q_MEM_TOTAL = 0x438,
  Q_MEM_FREE = 0x440,
};
enum {
  OP_NOP = 0x00,
  OP_PING = 0x01,
  OP_ALLOC = 0x10,
  OP_FREE = 0x11,
  OP_WRITE = 0x12,
  OP_READ = 0x13,
  OP_FILL = 0x20,
  OP_COPY = 0x21,
  OP_SAXPY = 0x22,
  OP_CRC32C = 0x23
};
enum { ST_READY = 1, ST_FATAL = 2 };
#define PAGE 4096u
#define SQ_N 64u     /* 64 x 64 bytes: one page */
#define CQ_N 64u     /* 64 x 16 bytes */
#define NFLOAT 4096u /* 16 KiB per array: 4 pages */
#define DATA_PAGES 8u
#define PCI_COMMAND_MASTER 0x4

struct sge {
  uint64_t addr;
  uint32_t len, reserved;
};

static int failures;

static void result(int ok, const char* name, const char* fmt, ...) {
  char detail[320] = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  printf("E2E-RESULT %s queue.%s %s\n", ok ? "PASS" : "FAIL", name, detail);
  fflush(stdout);
  if (!ok) failures++;
}

/* One locked, populated page and its guest-physical address. */
struct page {
  void* va;
  uint64_t gpa;
};

static int pagemap_fd = -1;

static int get_page(struct page* p) {
  return locked_page(pagemap_fd, &p->va, &p->gpa);
}

/* ---- the driver --------------------------------------------------------- */

static struct page sq_pg, cq_pg, list_pg, data_pg[DATA_PAGES];
static struct sqe* sq;
static struct cqe* cq;
static uint32_t sq_tail, cq_head, phase = 1, next_id = 1;

static uint32_t enable_queue(void) {
  memset(sq_pg.va, 0, PAGE);
  memset(cq_pg.va, 0, PAGE);
  wr64(Q_SQ_BASE, sq_pg.gpa);
  wr64(Q_CQ_BASE, cq_pg.gpa);
  wr32(Q_SQ_ENTRIES, SQ_N);
  wr32(Q_CQ_ENTRIES, CQ_N);
  wr32(Q_CTRL, 1);
  sq_tail = cq_head = 0;
  phase = 1;
  return rd32(Q_STATUS);
}

static void put(uint8_t op, const uint64_t* args, unsigned n) {
  struct sqe e;
  memset(&e, 0, sizeof e);
  e.opcode = op;
  e.id = next_id++;
  for (unsigned i = 0; i < n && i < 7; i++) e.arg[i] = args[i];
  sq[sq_tail] = e;
  sq_tail = (sq_tail + 1) % SQ_N;
}

static int poll_one(struct cqe* out, double timeout_s) {
  volatile struct cqe* slot = &cq[cq_head];
  const double start = now_s();
  while ((__atomic_load_n(&slot->status_phase, __ATOMIC_ACQUIRE) & 1u) != phase) {
    if (now_s() - start > timeout_s) return -1;
  }
  memcpy(out, (const void*)slot, sizeof *out);
  if (++cq_head == CQ_N) cq_head = 0, phase ^= 1;
  return 0;
}

/* Submits what put() queued, waits for `n` completions, releases them. */
static int submit_wait(struct cqe* out, unsigned n) {
  wr32(Q_SQ_TAIL, sq_tail);
  for (unsigned i = 0; i < n; i++)
    if (poll_one(&out[i], 20.0) != 0) return -1;
  wr32(Q_CQ_HEAD, cq_head);
  return 0;
}

static struct cqe run1(uint8_t op, const uint64_t* args, unsigned n) {
  struct cqe c;
  memset(&c, 0xff, sizeof c);
  put(op, args, n);
  if (submit_wait(&c, 1) != 0) c.status_phase = 0xfffe; /* a timeout reads as a bad status */
  return c;
}

/* A scatter list of whole data pages [first, first + n) at list_pg + slot*1 KiB. */
static uint64_t list_of(unsigned slot, unsigned first, unsigned n) {
  struct sge* l = (struct sge*)((uint8_t*)list_pg.va + slot * 1024);
  for (unsigned i = 0; i < n; i++) {
    l[i].addr = data_pg[first + i].gpa;
    l[i].len = PAGE;
    l[i].reserved = 0;
  }
  return list_pg.gpa + slot * 1024;
}

static float* pages_as_floats(unsigned first, float* tmp) { /* gathers 4 pages */
  for (unsigned i = 0; i < NFLOAT * 4 / PAGE; i++)
    memcpy((uint8_t*)tmp + i * PAGE, data_pg[first + i].va, PAGE);
  return tmp;
}

/* ---- the checks --------------------------------------------------------- */

static void check_session(void) {
  static float x[NFLOAT], y[NFLOAT], want[NFLOAT], got[NFLOAT];
  const float a = 2.5f;
  for (unsigned i = 0; i < NFLOAT; i++) x[i] = (float)i * 0.5f, y[i] = 1.0f + (float)(i % 7);
  for (unsigned i = 0; i < NFLOAT; i++) want[i] = a * x[i] + y[i];
  for (unsigned i = 0; i < 4; i++) {
    memcpy(data_pg[i].va, (uint8_t*)x + i * PAGE, PAGE);
    memcpy(data_pg[4 + i].va, (uint8_t*)y + i * PAGE, PAGE);
  }
  const uint64_t bytes = NFLOAT * 4;
  struct cqe hx = run1(OP_ALLOC, (uint64_t[]){bytes}, 1);
  struct cqe hy = run1(OP_ALLOC, (uint64_t[]){bytes}, 1);
  const uint64_t free_after = rd64(Q_MEM_FREE);
  result(status_of(&hx) == 0 && status_of(&hy) == 0 && hx.result && hy.result, "alloc",
         "handles 0x%" PRIx64 " 0x%" PRIx64 ", MEM_FREE %" PRIu64 " of %" PRIu64, hx.result,
         hy.result, free_after, rd64(Q_MEM_TOTAL));
  uint32_t a_bits;
  memcpy(&a_bits, &a, 4);
  put(OP_WRITE, (uint64_t[]){hx.result, 0, bytes, list_of(0, 0, 4), 4}, 5);
  put(OP_WRITE, (uint64_t[]){hy.result, 0, bytes, list_of(1, 4, 4), 4}, 5);
  put(OP_SAXPY, (uint64_t[]){hx.result, hy.result, NFLOAT, a_bits}, 4);
  put(OP_CRC32C, (uint64_t[]){hy.result, 0, bytes}, 3);
  put(OP_READ, (uint64_t[]){hy.result, 0, bytes, list_of(2, 0, 4), 4}, 5); /* over x's pages */
  struct cqe c[5];
  const double t0 = now_s();
  const int rc = submit_wait(c, 5);
  const double dt = now_s() - t0;
  int ok = rc == 0;
  for (int i = 0; ok && i < 5; i++) ok = status_of(&c[i]) == 0;
  result(ok && c[0].result == bytes && c[4].result == bytes, "write-saxpy-crc-read",
         "5 commands, one doorbell: statuses %u %u %u %u %u in %.3fs", status_of(&c[0]),
         status_of(&c[1]), status_of(&c[2]), status_of(&c[3]), status_of(&c[4]), dt);
  pages_as_floats(0, got);
  unsigned wrong = 0;
  for (unsigned i = 0; i < NFLOAT; i++) wrong += got[i] != want[i];
  result(rc == 0 && wrong == 0, "saxpy",
         "y = 2.5 x + y over %u floats: %u wrong; y[1]=%g y[4095]=%g", NFLOAT, wrong,
         (double)got[1], (double)got[NFLOAT - 1]);
  const uint32_t crc = crc32c_sw(want, sizeof want);
  result(rc == 0 && c[3].result == crc, "crc32c", "device 0x%08" PRIx64 ", guest 0x%08" PRIx32,
         c[3].result, crc);

  /* The standard check value, and a command over 64 KiB (runs after the
   * doorbell is answered): FILL 1 MiB, then read a page of it back. */
  memcpy(data_pg[0].va, "123456789", 9);
  const struct sge one = {data_pg[0].gpa, 9, 0};
  memcpy(list_pg.va, &one, sizeof one);
  struct cqe w = run1(OP_WRITE, (uint64_t[]){hx.result, 0, 9, list_pg.gpa, 1}, 5);
  struct cqe k = run1(OP_CRC32C, (uint64_t[]){hx.result, 0, 9}, 3);
  result(status_of(&w) == 0 && k.result == 0xE3069283u, "crc32c-check",
         "CRC32C(\"123456789\") = 0x%08" PRIx64 " (want 0xe3069283)", k.result);
  struct cqe big = run1(OP_ALLOC, (uint64_t[]){1u << 20}, 1);
  const double tf = now_s();
  struct cqe fill = run1(OP_FILL, (uint64_t[]){big.result, 0, 1u << 20, 0xC0FFEE11u}, 4);
  const double fill_s = now_s() - tf;
  struct cqe back =
      run1(OP_READ, (uint64_t[]){big.result, (1u << 20) - PAGE, PAGE, list_of(0, 7, 1), 1}, 5);
  const uint32_t* w32 = data_pg[7].va;
  result(status_of(&fill) == 0 && status_of(&back) == 0 && w32[0] == 0xC0FFEE11u &&
             w32[PAGE / 4 - 1] == 0xC0FFEE11u,
         "long-fill", "FILL 1 MiB: status %u in %.3fs; last page reads 0x%08" PRIx32,
         status_of(&fill), fill_s, w32[0]);
  struct cqe bad = run1(OP_FREE, (uint64_t[]){0x12345}, 1);
  result(status_of(&bad) == 5, "bad-handle", "FREE of a handle never given: status %u (want 5)",
         status_of(&bad));
}

int main(int argc, char** argv) {
  const char* dev = argc > 1 ? argv[1] : "/sys/bus/pci/devices/0000:00:05.0";
  char path[512];
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* step;
  int err = map_bar0(dev, path, sizeof path, &step);
  if (err) return result(0, step, "%s: %s", path, strerror(-err)), 1;
  pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
  err = pagemap_fd < 0 ? -errno : 0;
  if (!err) err = get_page(&sq_pg);
  if (!err) err = get_page(&cq_pg);
  if (!err) err = get_page(&list_pg);
  for (unsigned i = 0; !err && i < DATA_PAGES; i++) err = get_page(&data_pg[i]);
  if (err)
    return result(0, "memory", "locked pages with guest-physical addresses: %s", strerror(-err)), 1;
  sq = sq_pg.va;
  cq = cq_pg.va;
  result(1, "memory", "SQ at gpa 0x%" PRIx64 ", CQ at 0x%" PRIx64 ", %u data pages", sq_pg.gpa,
         cq_pg.gpa, DATA_PAGES);

  const uint32_t version = rd32(Q_VERSION);
  result(version == 0x00010000u && rd32(Q_MAX_ENTRIES) >= 1024, "version",
         "QUEUE_VERSION 0x%08" PRIx32 ", QUEUE_MAX_ENTRIES %" PRIu32 ", MEM_TOTAL %" PRIu64,
         version, rd32(Q_MAX_ENTRIES), rd64(Q_MEM_TOTAL));
  err = pci_command_set(dev, PCI_COMMAND_MASTER);
  uint32_t st = enable_queue();
  result(!err && st == ST_READY, "enable", "bus master on (%s), QUEUE_STATUS 0x%" PRIx32,
         err ? strerror(-err) : "ok", st);
  if (st == ST_READY) {
    struct cqe ping = run1(OP_PING, (uint64_t[]){0x0123456789ABCDEFull}, 1);
    result(status_of(&ping) == 0 && ping.result == ~0x0123456789ABCDEFull && ping.sq_head == 1 &&
               (ping.status_phase & 1),
           "ping", "result 0x%016" PRIx64 " sq_head %u phase %u", ping.result, ping.sq_head,
           ping.status_phase & 1u);
    check_session();
  }

  /* A doorbell beyond the ring: FATAL, reason 4; then disable/enable. */
  wr32(Q_SQ_TAIL, SQ_N);
  st = rd32(Q_STATUS);
  result(st == (ST_FATAL | 4u << 8), "fatal",
         "SQ_TAIL = %u: QUEUE_STATUS 0x%" PRIx32 " (want 0x402)", SQ_N, st);
  wr32(Q_CTRL, 0);
  const uint64_t total = rd64(Q_MEM_TOTAL), free_now = rd64(Q_MEM_FREE);
  result(rd32(Q_STATUS) == 0 && rd32(Q_COMPLETIONS) == 0 && free_now == total, "disable",
         "QUEUE_STATUS %" PRIu32 ", COMPLETIONS %" PRIu32 ", MEM_FREE %" PRIu64 " = MEM_TOTAL",
         rd32(Q_STATUS), rd32(Q_COMPLETIONS), free_now);
  st = enable_queue();
  struct cqe again = run1(OP_PING, (uint64_t[]){7}, 1);
  result(st == ST_READY && again.result == ~7ull && status_of(&again) == 0, "reenable",
         "QUEUE_STATUS 0x%" PRIx32 ", PING -> 0x%016" PRIx64, st, again.result);
  /* Left enabled with no device memory: Dom0 samples the daemon's RSS in
   * exactly that state (bus mastering stays on, or the queue goes FATAL). */
  munmap((void*)bar, E2E_BAR0_SIZE);
  return failures ? 1 : 0;
}
