/*
 * Guest-side MMIO read timing for the vgpu-ioreqd e2e test (not a check).
 *
 * Runs inside the HVM guest (static binary in its initramfs), pinned to one
 * vCPU. Times 32-bit reads of our BAR0 STATUS register (served by
 * vgpu-ioreqd) against 32-bit reads of the AHCI controller's ABAR CAP
 * register (BAR5 offset 0, served by QEMU's device model in the same guest),
 * in alternating batches, and prints parseable lines:
 *
 *   E2E-PERF batch=<i> bar0_ns=<ns/read> bar0_reads=<n> ahci_ns=<ns/read> ahci_reads=<n>
 *   E2E-PERF bar0_read_ns=<median> ahci_read_ns=<median> ratio=<ours/qemu>
 *            bar0_p50_ns=<ns> ahci_p50_ns=<ns> ratio_p50=<ours/qemu>
 *            batches=<n> bar0_reads=<total> ahci_reads=<total> cpu=<vCPU> ...
 *   E2E-PERF-ERROR <why>            (nothing measured)
 *
 * Each read is a full round trip guest -> Xen -> Dom0 process -> Xen ->
 * guest; under TCG that takes milliseconds and varies by two orders of
 * magnitude with the host's load. So a batch is a time slice rather than a
 * fixed count: it reads until BUDGET / (2 * BATCHES) has passed (at least
 * MIN_READS, at most MAX_READS reads), which bounds the wall time whatever
 * the emulator's speed. The ns/read of a batch is its elapsed time over its
 * reads; the result is the median over batches, per device. Each read is
 * also timed on its own: the median single read (read_p50) is robust to the
 * 30-130 ms stalls a loaded host inserts into whole batches.
 *
 *   mmio-bench [OUR-SYSFS-DEVICE-DIR [CPU [BATCHES [BUDGET-SECONDS]]]]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { REG_STATUS = 0x004, AHCI_CAP = 0x000, MAP_SIZE = 0x1000, MAX_BATCHES = 64 };
enum { MIN_READS = 3, MAX_READS = 200 };

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

__attribute__((format(printf, 1, 2))) static void fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("E2E-PERF-ERROR ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  exit(1);
}

static void enable_device(const char* dev) {
  char path[512];
  snprintf(path, sizeof path, "%s/enable", dev);
  int fd = open(path, O_WRONLY);
  if (fd >= 0) {
    if (write(fd, "1", 1) < 0) printf("note: writing %s: %s\n", path, strerror(errno));
    close(fd);
  }
}

static volatile uint32_t* map_reg(const char* dev, int bar, unsigned off) {
  char path[512];
  snprintf(path, sizeof path, "%s/resource%d", dev, bar);
  int fd = open(path, O_RDWR | O_SYNC);
  if (fd < 0) fail("open %s: %s", path, strerror(errno));
  void* p = mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) fail("mmap %s: %s", path, strerror(errno));
  close(fd);
  return (volatile uint32_t*)((volatile uint8_t*)p + off);
}

/* The first PCI function of class 0x0106xx (SATA, AHCI is 0x010601). */
static int find_ahci(char* out, size_t len) {
  const char* base = "/sys/bus/pci/devices";
  DIR* d = opendir(base);
  if (!d) return -1;
  struct dirent* e;
  int found = -1;
  while ((e = readdir(d)) && found < 0) {
    if (e->d_name[0] == '.') continue;
    char path[512], cls[32] = "";
    snprintf(path, sizeof path, "%s/%s/class", base, e->d_name);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    if (fgets(cls, sizeof cls, f) && strncmp(cls, "0x010601", 8) == 0) {
      snprintf(out, len, "%s/%s", base, e->d_name);
      found = 0;
    }
    fclose(f);
  }
  closedir(d);
  return found;
}

struct samples {
  double ns[MAX_BATCHES * MAX_READS];
  unsigned n;
};
static struct samples ours_reads, ahci_reads;

/* ns per read over 32-bit reads of *reg for about slice_ns; *n: reads. Each
 * read's own time goes to *all (if not NULL). */
static double time_batch(volatile uint32_t* reg, double slice_ns, unsigned* n, uint32_t* sink,
                         struct samples* all) {
  uint32_t acc = 0;
  unsigned i = 0;
  double t0 = now_ns(), t1 = t0, prev;
  do {
    prev = t1;
    acc ^= *reg;
    i++;
    t1 = now_ns();
    if (all && all->n < MAX_BATCHES * MAX_READS) all->ns[all->n++] = t1 - prev;
  } while (i < MAX_READS && (i < MIN_READS || t1 - t0 < slice_ns));
  *sink ^= acc;
  *n = i;
  return (t1 - t0) / i;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n); sorts v. */
static double median(double* v, unsigned n) {
  if (n == 0) return 0;
  qsort(v, n, sizeof v[0], cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char** argv) {
  const char* ours = argc > 1 ? argv[1] : "/sys/bus/pci/devices/0000:00:05.0";
  int cpu = argc > 2 ? atoi(argv[2]) : 0;
  int batches = argc > 3 ? atoi(argv[3]) : 20;
  double budget_s = argc > 4 ? atof(argv[4]) : 4.0;
  char ahci[512];
  uint32_t sink = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (batches < 1 || batches > MAX_BATCHES) batches = 20;

  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    fail("sched_setaffinity cpu %d: %s", cpu, strerror(errno));

  if (find_ahci(ahci, sizeof ahci) != 0) fail("no PCI device of class 0x010601 (AHCI)");
  enable_device(ours);
  enable_device(ahci);
  volatile uint32_t* status = map_reg(ours, 0, REG_STATUS);
  volatile uint32_t* cap = map_reg(ahci, 5, AHCI_CAP);
  uint32_t cap_val = *cap, status_val = *status;

  /* Warm-up: a few reads of each (first touches, page-table walks). */
  double slice_ns = budget_s * 1e9 / (2.0 * batches);
  unsigned n_ours, n_ahci;
  unsigned long tot_ours = 0, tot_ahci = 0;
  time_batch(status, 0, &n_ours, &sink, NULL);
  time_batch(cap, 0, &n_ahci, &sink, NULL);

  double ours_ns[MAX_BATCHES], ahci_ns[MAX_BATCHES];
  double t0 = now_ns();
  for (int b = 0; b < batches; b++) {
    /* Alternate which device goes first, so neither always follows the
     * other's wake-up pattern. */
    if (b % 2 == 0) {
      ours_ns[b] = time_batch(status, slice_ns, &n_ours, &sink, &ours_reads);
      ahci_ns[b] = time_batch(cap, slice_ns, &n_ahci, &sink, &ahci_reads);
    } else {
      ahci_ns[b] = time_batch(cap, slice_ns, &n_ahci, &sink, &ahci_reads);
      ours_ns[b] = time_batch(status, slice_ns, &n_ours, &sink, &ours_reads);
    }
    tot_ours += n_ours;
    tot_ahci += n_ahci;
    printf("E2E-PERF batch=%d bar0_ns=%.0f bar0_reads=%u ahci_ns=%.0f ahci_reads=%u\n", b,
           ours_ns[b], n_ours, ahci_ns[b], n_ahci);
  }
  double wall = (now_ns() - t0) / 1e9;
  double mo = median(ours_ns, (unsigned)batches), ma = median(ahci_ns, (unsigned)batches);
  double po = median(ours_reads.ns, ours_reads.n), pa = median(ahci_reads.ns, ahci_reads.n);
  const char* slot = strrchr(ahci, '/') + 1;
  printf(
      "E2E-PERF bar0_read_ns=%.0f ahci_read_ns=%.0f ratio=%.3f bar0_p50_ns=%.0f"
      " ahci_p50_ns=%.0f ratio_p50=%.3f batches=%d bar0_reads=%lu ahci_reads=%lu slice_ms=%.0f "
      "cpu=%d running_on=%d ahci=%s status=0x%08x cap=0x%08x"
      " wall=%.2fs sink=%u\n",
      mo, ma, ma > 0 ? mo / ma : 0.0, po, pa, pa > 0 ? po / pa : 0.0, batches, tot_ours, tot_ahci,
      slice_ns / 1e6, cpu, sched_getcpu(), slot, status_val, cap_val, wall, sink & 1);
  return 0;
}
