// SimHypervisor: an in-process hypervisor that behaves, at the hv::Hypervisor
// seam, the way Xen 4.17 does for one HVM domain with ioreq servers, and that
// lets test threads play the guest's vCPUs against a real ioreq server.
//
// Daemon side (hv::Hypervisor): Xen's ids, error codes and routing rules
// (docs/simulator.md lists them). Every control call is
// recorded in an ordered log for tests (calls()).
//
// Guest side (pio_*, mmio_*, issue*, broadcast_invalidate): each call is one
// vCPU doing one access; it runs Xen's ioreq protocol on the slot of the
// server that claimed the access and blocks until the server answers, the
// server is destroyed, or the response timeout passes. Anything Xen would
// punish with domain_crash, and a vCPU that would hang forever, is recorded
// in violations() instead, so a broken daemon fails tests rather than hanging
// them. See docs/simulator.md for what is faithful and what is not.
//
// Thread-safety: the daemon side is used by one thread (plus extra event
// channel handles from open_event_channels(), one per thread); guest-side
// calls are thread-safe with one thread per vCPU at a time; inspection calls
// are thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vgpu/hv/hypervisor.h"
#include "vgpu/sim/sim_event_channels.h"
#include "vgpu/sim/sim_guest_memory.h"

namespace vgpu::sim {

struct SimConfig {
  uint16_t domid = 1;
  unsigned vcpus = 1;                // 1..128: one ioreq slot each in a page
  uint64_t ram_bytes = 16ull << 20;  // guest RAM at gpa 0
  bool hvm = true;
  // The domain's UUID (DomainInfo::handle).
  std::array<uint8_t, 16> handle{0x5e, 0x1d, 0x0d, 0x0a, 0x1a, 0xf4, 0x11, 0x11,
                                 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x01};
  // How long a vCPU waits for a response before it is declared hung.
  std::chrono::milliseconds response_timeout{5000};
};

enum class SimCallKind : uint8_t {
  kCreateServer,
  kDestroyServer,
  kEnableServer,
  kDisableServer,
  kMapPcidev,
  kUnmapPcidev,
  kMapMmio,
  kUnmapMmio,
  kInjectMsi,
  // The transport, logged only while record_transport(true): for tests of
  // the order of teardown (docs/spec.md §7).
  kNotify,      // an answer's event (server: the vCPU's server)
  kUnbindPort,  // an event channel unbound by the daemon
  kUnmapPage,   // an ioreq page unmapped by the daemon
};
const char* to_string(SimCallKind kind);

// One control call the daemon made, successful or not.
struct SimCall {
  SimCallKind kind{};
  hv::ServerId server = 0;   // unused for kInjectMsi
  pci::Sbdf sbdf{};          // k{Map,Unmap}Pcidev
  hv::MmioRange range{};     // k{Map,Unmap}Mmio
  uint64_t msi_address = 0;  // kInjectMsi
  uint32_t msi_data = 0;     // kInjectMsi
  int error = 0;             // errno the call failed with; 0 on success

  // e.g. "map_mmio(server 0, [0xf0000000, 0xf0000fff])" or
  // "map_pcidev(server 0, 0000:00:05.0) -> EEXIST".
  std::string to_string() const;
  friend bool operator==(const SimCall&, const SimCall&) = default;
};

class SimHypervisor final : public hv::Hypervisor {
 public:
  static constexpr unsigned kMaxServers = 8;  // MAX_NR_IOREQ_SERVERS

  explicit SimHypervisor(SimConfig config = {});
  ~SimHypervisor() override;
  SimHypervisor(const SimHypervisor&) = delete;
  SimHypervisor& operator=(const SimHypervisor&) = delete;

  // ---- hv::Hypervisor: the daemon side ----
  uint16_t domid() const override { return config_.domid; }
  Result<hv::DomainInfo> domain_info() override;
  Result<unsigned> vcpu_count() override;
  Result<hv::ServerId> create_ioreq_server() override;
  Status destroy_ioreq_server(hv::ServerId id) override;
  Result<ioreq_t*> map_ioreq_page(hv::ServerId id) override;
  void unmap_ioreq_page(ioreq_t* page) override;
  Status set_ioreq_server_enabled(hv::ServerId id, bool enabled) override;
  Status map_pcidev(hv::ServerId id, pci::Sbdf sbdf) override;
  Status unmap_pcidev(hv::ServerId id, pci::Sbdf sbdf) override;
  Status map_mmio_range(hv::ServerId id, hv::MmioRange range) override;
  Status unmap_mmio_range(hv::ServerId id, hv::MmioRange range) override;
  Status inject_msi(uint64_t address, uint32_t data) override;
  hv::EventChannels& event_channels() override { return *default_channels_; }
  hv::GuestMemory& guest_memory() override { return memory_; }

  // Another xenevtchn handle (one per thread). Must not outlive
  // the hypervisor.
  std::unique_ptr<SimEventChannels> open_event_channels();

  // ---- guest side: one access by one vCPU ----
  // Port I/O. CF8 (4 bytes) is latched by the hypervisor; CFC-CFF with CF8's
  // enable bit becomes a PCI_CONFIG request for the server that claimed the
  // SBDF; everything unclaimed reads all ones and drops writes.
  uint32_t pio_read(unsigned vcpu, uint16_t port, unsigned size);
  void pio_write(unsigned vcpu, uint16_t port, unsigned size, uint32_t value);
  // Memory access: guest RAM is accessed directly; an access wholly inside a
  // claimed range becomes an IOREQ_TYPE_COPY request; the rest reads all ones.
  uint64_t mmio_read(unsigned vcpu, uint64_t gpa, unsigned size);
  void mmio_write(unsigned vcpu, uint64_t gpa, unsigned size, uint64_t value);
  // Sends an arbitrary request (any type, size, count, df, data_is_ptr) to
  // the server Xen's routing picks, or to `server` if given (it must be
  // enabled), and returns the slot as the server completed it. A request no
  // server takes comes back with data all ones.
  ioreq_t issue(unsigned vcpu, const ioreq_t& request,
                std::optional<hv::ServerId> server = std::nullopt);
  // IOREQ_TYPE_INVALIDATE to every enabled server at once; returns when all
  // have answered (or the timeout passed).
  void broadcast_invalidate(unsigned vcpu = 0);

  SimGuestMemory& memory() { return memory_; }
  // The guest kernel's lock around CF8/CFC pairs (Linux's pci_config_lock),
  // shared by every SimGuest of this domain.
  std::mutex& guest_config_lock() { return guest_config_lock_; }

  // ---- inspection (thread-safe) ----
  std::vector<SimCall> calls() const;
  void clear_calls();
  // Also log kNotify, kUnbindPort and kUnmapPage in calls() from now on
  // (off by default: serving notifies once per request).
  void record_transport(bool on);
  // Protocol violations: "domain crashed: ..." and "vCPU N hung: ...".
  std::vector<std::string> violations() const;
  void clear_violations();
  bool domain_crashed() const { return crashed_.load(); }

  std::vector<hv::ServerId> servers() const;
  bool server_enabled(hv::ServerId id) const;
  std::vector<pci::Sbdf> pcidevs(hv::ServerId id) const;
  std::vector<hv::MmioRange> mmio_ranges(hv::ServerId id) const;  // sorted by address
  // Which server a config access to `sbdf` / a memory access to [first,
  // last] would reach now; nullopt means the default device model.
  std::optional<hv::ServerId> route_pcidev(pci::Sbdf sbdf) const;
  std::optional<hv::ServerId> route_mmio(uint64_t first, uint64_t last) const;
  // Resources the daemon still holds: mapped ioreq pages, bound ports.
  size_t mapped_pages() const;
  size_t bound_ports() const;
  uint32_t cf8() const;

  // ---- lifecycle ----
  // The domain disappears (xl destroy): servers, ports and pages go away,
  // blocked vCPUs are released, domain_info() reports !exists and every other
  // daemon call fails with ESRCH.
  void destroy_domain();
  // The domain starts shutting down (DomainInfo::dying).
  void set_dying(bool dying);
  // From now on inject_msi() fails with `error` (0: succeeds again), as Xen
  // refuses an MSI the guest programmed with a bogus address.
  void fail_msi_injection(int error);
  // The guest shut itself down and the toolstack preserved it: dying, and
  // abnormal unless the reason was poweroff (a crash; a triple fault, which
  // Xen turns into a reboot).
  void shut_down(bool abnormal);
  // Shutdown with reason suspend (xl save, or xl save -c for a checkpoint):
  // domain_info() reports suspended, not dying; the ioreq servers stay, as
  // in Xen. resume() is the checkpoint's end (xc_domain_resume): the same
  // domain runs on. The test plays the guest: no access while suspended.
  void suspend();
  void resume();

 private:
  friend class SimEventChannels;
  struct Server;
  struct Vcpu;
  struct RemotePort {
    hv::ServerId server = 0;
    unsigned vcpu = 0;
    SimEventChannels* bound_by = nullptr;
    hv::Port local = 0;
  };
  struct Pending;  // one request a vCPU has published and waits for

  // Which servers a guest access goes to: Xen's routing, one given server
  // (if enabled), or every enabled server (INVALIDATE). Resolved under
  // mutex_ when the request is published.
  struct Route {
    enum Kind : uint8_t { kByXen, kToServer, kAllEnabled } kind = kByXen;
    hv::ServerId server = 0;
  };

  // All private helpers named *_locked expect mutex_ held.
  Status check_domain_locked() const;
  Result<Server*> find_server_locked(hv::ServerId id);
  const Server* server_locked(hv::ServerId id) const;  // nullptr if none
  Status record_locked(SimCall call, Status status);
  void violation(std::string text);
  void violation_locked(std::string text);
  hv::Port alloc_remote_port_locked(hv::ServerId id, unsigned vcpu);
  hv::Port alloc_local_port_locked();
  void free_server_locked(hv::ServerId id);
  void release_waiters_locked(hv::ServerId id);
  Status map_range_locked(Server& s, hv::MmioRange range);
  Status unmap_range_locked(Server& s, hv::MmioRange range);

  std::optional<hv::ServerId> select_locked(const ioreq_t& req) const;
  size_t targets_locked(const ioreq_t& req, Route route,
                        std::array<hv::ServerId, kMaxServers>& out) const;
  bool claim_vcpu_locked(unsigned vcpu, const char* what);
  ioreq_t run_requests(unsigned vcpu, const ioreq_t& req, Route route);
  size_t publish_all(unsigned vcpu, const ioreq_t& req, Route route, std::span<Pending> pending);
  bool publish_locked(Vcpu& v, Pending& p, const ioreq_t& req);
  void wait_all(Vcpu& v, std::span<Pending> pending);
  bool poll_slot(Vcpu& v, Pending& p);
  void report_hang(unsigned vcpu, const Pending& p);
  uint32_t config_port_read(unsigned vcpu, uint16_t port, unsigned size);
  void config_port_write(unsigned vcpu, uint16_t port, unsigned size, uint32_t value);

  const SimConfig config_;
  mutable std::mutex mutex_;
  std::map<hv::ServerId, std::unique_ptr<Server>> servers_;
  std::map<hv::Port, RemotePort> remote_ports_;  // guest-side ports
  struct Mapping {
    std::shared_ptr<ioreq_t> page;  // keeps the page alive past destroy
    unsigned count = 0;
  };
  std::map<ioreq_t*, Mapping> mapped_;  // the daemon's ioreq page mappings
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::vector<SimCall> calls_;
  std::vector<std::string> violations_;
  std::map<hv::Port, SimEventChannels*> local_owner_;  // every bound local port
  hv::Port next_local_port_ = 0;
  std::atomic<uint32_t> cf8_{0};  // lock-free: the guest serialises CF8/CFC pairs itself
  bool exists_ = true;
  bool dying_ = false;
  int msi_error_ = 0;
  bool record_transport_ = false;
  // Logs a transport call if record_transport is on.
  void record_transport_locked(SimCallKind kind, hv::ServerId server);
  bool abnormal_shutdown_ = false;
  bool suspended_ = false;
  std::atomic<bool> crashed_{false};
  SimGuestMemory memory_;
  std::mutex guest_config_lock_;
  std::unique_ptr<SimEventChannels> default_channels_;
};

}  // namespace vgpu::sim
