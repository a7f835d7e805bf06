/*
 * min-ioreq-server: the smallest ioreq server we could write, for the guest
 * crash study (docs/e2e.md, "Guest crash study"). It uses Xen's libraries
 * directly and no vgpu-ioreqd code, so that a crash rate it shares with the
 * daemon cannot be the daemon's doing.
 *
 *   min-ioreq-server --domid N [--delay-us US] [--sbdf 00:05.0 (fixed)] [...]
 *
 * It claims PCI 0000:00:05.0 and emulates a plain function there (1b36:00f0,
 * class 0xff0000, one 4 KiB 32-bit memory BAR, no capabilities): config
 * space from a 256-byte array with write masks, BAR0 as 4 KiB of RAM-like
 * registers except that offset 4 always reads 2 (so the e2e guest's
 * mmio-test sees its commands finish at once). The BAR0 window is claimed
 * when memory decoding is on and released when it goes off or moves, as
 * vgpu-ioreqd does. Each request is held for --delay-us microseconds before
 * it is answered (sleeping), to test whether long exits alone are enough.
 *
 * Prints "READY server=<id>" once the guest may be unpaused; exits 0 when
 * the domain is gone or on SIGTERM/SIGINT. Options it does not know are
 * skipped with their value, so it can stand in for the daemon's command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>

enum {
  kBus = 0,
  kDev = 5,
  kFn = 0,
  kBarSize = 4096,
  kCfgSize = 256,
  kPollMs = 500,
  kMaxVcpus = 128,
  kStatusReg = 4,
  kStatusDone = 2,
};

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static uint8_t cfg[kCfgSize], cfg_wmask[kCfgSize];
static uint8_t bar[kBarSize];
static uint64_t mapped_base; /* 0: nothing claimed */

static xendevicemodel_handle* dmod;
static domid_t domid;
static ioservid_t sid;

static void put16(uint8_t* p, uint16_t v) {
  memcpy(p, &v, 2);
}
static void put32(uint8_t* p, uint32_t v) {
  memcpy(p, &v, 4);
}

static void init_config(void) {
  put16(cfg + 0x00, 0x1b36);      /* vendor */
  put16(cfg + 0x02, 0x00f0);      /* device */
  put32(cfg + 0x08, 0xff000001u); /* class ff0000, revision 1 */
  put16(cfg + 0x2c, 0x1b36);      /* subsystem vendor */
  put16(cfg + 0x2e, 0x00f0);
  put16(cfg_wmask + 0x04, 0x0007);                    /* command: IO, memory, bus master */
  put32(cfg_wmask + 0x10, ~(uint32_t)(kBarSize - 1)); /* BAR0, 32-bit memory */
  cfg_wmask[0x3c] = 0xff;                             /* interrupt line */
}

/* Claims the BAR0 window while memory decoding is on; follows moves. */
static void update_claim(void) {
  uint32_t b;
  uint16_t cmd;
  memcpy(&b, cfg + 0x10, 4);
  memcpy(&cmd, cfg + 0x04, 2);
  uint64_t want = (cmd & 2) && (b & ~0xfffu) ? (b & ~0xfffu) : 0;
  if (want == mapped_base) return;
  if (mapped_base && xendevicemodel_unmap_io_range_from_ioreq_server(
                         dmod, domid, sid, 1, mapped_base, mapped_base + kBarSize - 1) < 0)
    fprintf(stderr, "unmap %#llx: %s\n", (unsigned long long)mapped_base, strerror(errno));
  mapped_base = 0;
  if (want && xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, sid, 1, want,
                                                          want + kBarSize - 1) == 0)
    mapped_base = want;
}

static uint64_t config_access(ioreq_t* r) {
  uint32_t off = (uint32_t)r->addr, sbdf = (uint32_t)(r->addr >> 32);
  uint64_t v = 0;
  if (sbdf != ((kBus << 8) | (kDev << 3) | kFn) || off >= kCfgSize || r->size > 4 ||
      off + r->size > kCfgSize)
    return r->dir == IOREQ_READ ? ~(uint64_t)0 : 0;
  if (r->dir == IOREQ_READ) {
    memcpy(&v, cfg + off, r->size);
    return v;
  }
  for (uint32_t i = 0; i < r->size; i++) {
    uint8_t b = (uint8_t)(r->data >> (8 * i));
    cfg[off + i] = (uint8_t)((cfg[off + i] & ~cfg_wmask[off + i]) | (b & cfg_wmask[off + i]));
  }
  update_claim();
  return 0;
}

static uint64_t mmio_access(ioreq_t* r) {
  uint64_t v = 0, off = r->addr - mapped_base;
  if (!mapped_base || r->addr < mapped_base || off >= kBarSize || r->size > 8 ||
      off + r->size > kBarSize || r->data_is_ptr || r->count != 1)
    return r->dir == IOREQ_READ ? ~(uint64_t)0 : 0;
  if (r->dir == IOREQ_WRITE) {
    memcpy(bar + off, &r->data, r->size);
    return 0;
  }
  memcpy(&v, bar + off, r->size);
  if (off == kStatusReg && r->size == 4) v = kStatusDone;
  return v;
}

static void hold(long delay_us) {
  struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
  while (delay_us > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* The handshake: READY -> INPROCESS -> (answer) -> IORESP_READY, notify. */
static void serve(ioreq_t* slot, xenevtchn_handle* xce, evtchn_port_t port, long delay_us) {
  if (__atomic_load_n(&((uint8_t*)slot)[30], __ATOMIC_ACQUIRE) % 16 != STATE_IOREQ_READY) return;
  ioreq_t r = *slot;
  slot->state = STATE_IOREQ_INPROCESS;
  hold(delay_us);
  uint64_t v = 0;
  if (r.type == IOREQ_TYPE_PCI_CONFIG)
    v = config_access(&r);
  else if (r.type == IOREQ_TYPE_COPY)
    v = mmio_access(&r);
  else if (r.dir == IOREQ_READ)
    v = ~(uint64_t)0;
  if (r.dir == IOREQ_READ) slot->data = v;
  __atomic_thread_fence(__ATOMIC_RELEASE);
  slot->state = STATE_IORESP_READY;
  xenevtchn_notify(xce, port);
}

int main(int argc, char** argv) {
  long delay_us = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--domid")) domid = (domid_t)atoi(argv[i + 1]);
    if (!strcmp(argv[i], "--delay-us")) delay_us = atol(argv[i + 1]);
  }
  if (!domid) {
    fprintf(stderr, "usage: %s --domid N [--delay-us US]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  init_config();

  dmod = xendevicemodel_open(NULL, 0);
  xenforeignmemory_handle* fmem = xenforeignmemory_open(NULL, 0);
  xenevtchn_handle* xce = xenevtchn_open(NULL, 0);
  unsigned int vcpus = 0;
  if (!dmod || !fmem || !xce || xendevicemodel_nr_vcpus(dmod, domid, &vcpus) < 0 || !vcpus ||
      vcpus > kMaxVcpus || xendevicemodel_create_ioreq_server(dmod, domid, 0, &sid) < 0) {
    fprintf(stderr, "setup: %s\n", strerror(errno));
    return 1;
  }
  void* addr = NULL;
  xenforeignmemory_resource_handle* res = xenforeignmemory_map_resource(
      fmem, domid, XENMEM_resource_ioreq_server, sid, XENMEM_resource_ioreq_server_frame_ioreq(0),
      1, &addr, PROT_READ | PROT_WRITE, 0);
  if (!res || xendevicemodel_set_ioreq_server_state(dmod, domid, sid, 1) < 0) {
    fprintf(stderr, "map/enable: %s\n", strerror(errno));
    return 1;
  }
  ioreq_t* page = addr;
  evtchn_port_t local[kMaxVcpus];
  for (unsigned v = 0; v < vcpus; v++) {
    int p = xenevtchn_bind_interdomain(xce, domid, page[v].vp_eport);
    if (p < 0) {
      fprintf(stderr, "bind vCPU %u: %s\n", v, strerror(errno));
      return 1;
    }
    local[v] = (evtchn_port_t)p;
  }
  if (xendevicemodel_map_pcidev_to_ioreq_server(dmod, domid, sid, 0, kBus, kDev, kFn) < 0) {
    fprintf(stderr, "claim 00:05.0: %s\n", strerror(errno));
    return 1;
  }
  printf("READY server=%u vcpus=%u delay_us=%ld\n", sid, vcpus, delay_us);

  unsigned long served = 0;
  struct pollfd pfd = {.fd = xenevtchn_fd(xce), .events = POLLIN};
  while (!stop_requested) {
    int n = poll(&pfd, 1, kPollMs);
    if (n == 0) {
      unsigned int dummy;
      if (xendevicemodel_nr_vcpus(dmod, domid, &dummy) < 0) break; /* domain gone */
      continue;
    }
    if (n < 0) continue;
    xenevtchn_port_or_error_t port = xenevtchn_pending(xce);
    if (port < 0) continue;
    xenevtchn_unmask(xce, (evtchn_port_t)port);
    for (unsigned v = 0; v < vcpus; v++) {
      if (local[v] == (evtchn_port_t)port) {
        serve(&page[v], xce, local[v], delay_us);
        served++;
      }
    }
  }
  printf("EXIT served=%lu\n", served);
  return 0;
}
