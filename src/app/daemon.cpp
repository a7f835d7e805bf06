#include "vgpu/app/daemon.h"

#include <spdlog/spdlog.h>

#include "vgpu/common/study_arm.h"

namespace vgpu::app {

Daemon::Daemon(hv::Hypervisor& hv, const DaemonConfig& config, DaemonObserver* observer)
    : hv_(hv),
      host_(config.sbdf, hv, config.make_device),
      dispatcher_(host_, hv.guest_memory()),
      observer_(observer) {}

Result<std::unique_ptr<Daemon>> Daemon::start(hv::Hypervisor& hv, const DaemonConfig& config,
                                              DaemonObserver* observer) {
  std::unique_ptr<Daemon> d(new Daemon(hv, config, observer));
  if (Status s = d->bring_up(); !s) return s.error();
  return d;
}

Status Daemon::bring_up() {
  auto server = ioreq::IoreqServer::start(hv_, dispatcher_);
  if (!server) return server.error();
  server_ = std::move(*server);
  if (observer_) observer_->server_enabled(server_->id());

  claims_ = std::make_unique<host::Claims>(hv_, server_->id(), host_.sbdf());
  if (Status s = claims_->claim_sbdf(); !s) return s;
  host_.set_bar_listener(this);

  loop_.add(server_->fd(), [this] { return server_->on_event(); });
  return {};
}

Daemon::~Daemon() {
  host_.set_bar_listener(nullptr);
  // 1. Nothing new reaches us once the claims are gone.
  claims_.reset();
  // 2. Answer whatever a vCPU already put in its slot, so none stays blocked.
  if (server_) {
    if (unsigned n = server_->drain()) spdlog::info("answered {} request(s) in flight", n);
    const auto& st = server_->stats();
    const auto& ds = dispatcher_.stats();
    spdlog::info(
        "served {} requests: {} config, {} MMIO ({} through guest memory), {} malformed, {} "
        "guest-memory faults; {} spurious wake-ups",
        st.served, ds.config, ds.mmio, ds.through_memory, ds.malformed, ds.guest_mem_faults,
        st.spurious);
  }
  // 3. Members: server_ unbinds, disables, unmaps and destroys.
}

void Daemon::domain_gone() {
  spdlog::info("the domain is gone; Xen has released the ioreq server and its claims");
  claims_->forget();
  server_->domain_gone();
  request_stop();
}

void Daemon::dump_trace(std::string_view why) const {
  server_->trace().dump(why);
}

void Daemon::bar_changed(unsigned index, std::optional<pci::BarMapping> now) {
  if (now)
    bar_log_("guest placed BAR{} at {:#x} ({} bytes), decoding on", index, now->base, now->size);
  else
    bar_log_("BAR{} not decoding", index);
  if (Status s = claims_->move_bar(index, now); !s)
    claim_failure_log_("claiming BAR{} window: {}; its accesses will not reach us", index,
                       s.error().describe());
  if (observer_ && !study::is(study::Arm::kNoXenstoreBar))
    observer_->bar_changed(index, claims_->mmio(index) ? now : std::nullopt);
}

}  // namespace vgpu::app
