/*
 * What the driverless e2e guest programs (mmio-test, queue-test, rsoak)
 * share: BAR0's mapping, the queue's entry layouts, a locked page and its guest-physical
 * address, Command register bits through sysfs, BAR0 accesses of exact widths through the sysfs
 * resource0 mapping each program sets up in `bar`, a monotonic clock in seconds, and a bitwise
 * CRC-32C (Castagnoli) to check the device's answers against. Each program is still built alone,
 * with one gcc line (build-guest.sh).
 */
#ifndef VGPU_E2E_DEVICE_ACCESS_H
#define VGPU_E2E_DEVICE_ACCESS_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define E2E_PAGE 4096u

/* The command queue's entries (docs/spec.md §9), as a guest lays them out. */
struct sqe {
  uint8_t opcode, flags;
  uint16_t reserved;
  uint32_t id;
  uint64_t arg[7];
};
struct cqe {
  uint64_t result;
  uint32_t id;
  uint16_t sq_head;
  uint16_t status_phase;
};

static inline unsigned status_of(const struct cqe* c) {
  return c->status_phase >> 1;
}

/* One zeroed, locked page and its guest-physical address, from
 * /proc/self/pagemap (which must show PFNs: root). */
static inline int locked_page(int pagemap_fd, void** va, uint64_t* gpa) {
  void* p = mmap(NULL, E2E_PAGE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
  if (p == MAP_FAILED) return -errno;
  memset(p, 0, E2E_PAGE);
  if (mlock(p, E2E_PAGE) != 0) return -errno;
  uint64_t ent = 0;
  const off_t at = (off_t)((uintptr_t)p / E2E_PAGE * sizeof ent);
  if (pread(pagemap_fd, &ent, sizeof ent, at) != (ssize_t)sizeof ent) return -EIO;
  if (!(ent >> 63) || (ent & ((1ull << 55) - 1)) == 0) return -EPERM; /* not present / no PFNs */
  *va = p;
  *gpa = (ent & ((1ull << 55) - 1)) * E2E_PAGE;
  return 0;
}

/* Sets `bits` in the device's PCI Command register (sysfs config). */
static inline int pci_command_set(const char* dev, uint16_t bits) {
  char path[512];
  snprintf(path, sizeof path, "%s/config", dev);
  int fd = open(path, O_RDWR);
  if (fd < 0) return -errno;
  uint16_t cmd = 0;
  int err = 0;
  if (pread(fd, &cmd, 2, 0x04) != 2) err = -EIO;
  cmd |= bits;
  if (!err && pwrite(fd, &cmd, 2, 0x04) != 2) err = -EIO;
  close(fd);
  return err;
}

static volatile uint8_t* bar;

#define E2E_BAR0_SIZE 0x1000u /* the stub's BAR0 (docs/spec.md §3) */

/* Maps `dev`'s BAR0 (its sysfs resource0, O_SYNC: uncached) into `bar`,
 * leaving the file's name in `path` (`len` bytes) for messages. 0, or
 * -errno with *step naming the call that failed ("open" or "mmap"). */
static inline int map_bar0(const char* dev, char* path, size_t len, const char** step) {
  snprintf(path, len, "%s/resource0", dev);
  *step = "open";
  const int fd = open(path, O_RDWR | O_SYNC);
  if (fd < 0) return -errno;
  *step = "mmap";
  void* p = mmap(NULL, E2E_BAR0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = p == MAP_FAILED ? -errno : 0;
  close(fd); /* the mapping stays */
  if (!err) bar = p;
  return err;
}

static inline uint8_t rd8(unsigned off) {
  return *(volatile uint8_t*)(bar + off);
}
static inline uint16_t rd16(unsigned off) {
  return *(volatile uint16_t*)(bar + off);
}
static inline uint32_t rd32(unsigned off) {
  return *(volatile uint32_t*)(bar + off);
}
static inline uint64_t rd64(unsigned off) {
  return *(volatile uint64_t*)(bar + off);
}
static inline void wr8(unsigned off, uint8_t v) {
  *(volatile uint8_t*)(bar + off) = v;
}
static inline void wr16(unsigned off, uint16_t v) {
  *(volatile uint16_t*)(bar + off) = v;
}
static inline void wr32(unsigned off, uint32_t v) {
  *(volatile uint32_t*)(bar + off) = v;
}
static inline void wr64(unsigned off, uint64_t v) {
  *(volatile uint64_t*)(bar + off) = v;
}

static inline double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The reference the device's CRC32C answers are checked against. */
static inline uint32_t crc32c_sw(const void* data, size_t len) {
  const uint8_t* p = data;
  uint32_t c = ~0u;
  while (len--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
  }
  return ~c;
}

#endif
