#include "vgpu/app/daemon.h"

#include <spdlog/spdlog.h>

#include <exception>

#include "vgpu/common/study_arm.h"

namespace vgpu::app {

Daemon::Daemon(hv::Hypervisor& hv, const DaemonConfig& config, DaemonObserver* observer)
    : hv_(hv),
      dma_(hv.guest_memory()),
      host_(config.sbdf, hv, config.make_device, dma_),
      dispatcher_(host_, dma_),
      observer_(observer),
      resume_(config.resume),
      state_sink_(config.state_sink) {}

Result<std::unique_ptr<Daemon>> Daemon::start(hv::Hypervisor& hv, const DaemonConfig& config,
                                              DaemonObserver* observer) {
  std::unique_ptr<Daemon> d;
  try {
    d.reset(new Daemon(hv, config, observer));
  } catch (const std::exception& e) {
    // The device could not get what it needs (device memory, say).
    return Error{ENOMEM, std::string("cannot build the device: ") + e.what()};
  }
  if (Status s = d->bring_up(); !s) return s.error();
  return d;
}

// One path for a new server and for a restart's take-over (docs/spec.md
// §12): a take-over attaches to the dead daemon's server, adopts its claims
// and restores the device before anything is served.
Status Daemon::bring_up() {
  auto server = resume_ ? ioreq::IoreqServer::attach(hv_, dispatcher_, resume_->server)
                        : ioreq::IoreqServer::start(hv_, dispatcher_, [this](hv::ServerId id) {
                            if (observer_) observer_->server_created(id);
                          });
  if (!server) return server.error();
  server_ = std::move(*server);
  if (observer_) observer_->server_enabled(server_->id());

  claims_ = std::make_unique<host::Claims>(hv_, server_->id(), host_.sbdf());
  if (Status s = resume_ ? claims_->adopt_sbdf() : claims_->claim_sbdf(); !s) return s;
  host_.set_listener(this);
  if (resume_) {
    if (Status s = restore(*resume_); !s) return s;
    resume_.reset();  // the saved bytes are not needed any more
    resumed_ = true;
  }
  if (state_sink_) {
    server_->set_before_answer([this](const ioreq_t& req) {
      // Reads change nothing the guest can see; writes may.
      if (req.dir == IOREQ_WRITE) save_state();
    });
    save_state();
  }

  loop_.add(server_->fd(), [this] { return server_->on_event(); });
  if (const int fd = host_.device().event_fd(); fd >= 0) {
    loop_.add(fd, [this] {
      host_.device().on_event();
      if (state_sink_) save_state();  // the device's threads completed work
      return Status{};
    });
  }
  if (resumed_) {
    // Only now, with the device restored and the claims in place, may the
    // requests the dead daemon left behind be answered (each write among
    // them is saved before its answer, like any other).
    answered_on_resume_ = server_->resume();
    spdlog::info("answered {} request(s) the previous daemon left pending", answered_on_resume_);
  }
  return {};
}

Status Daemon::restore(const Resume& resume) {
  auto saved = resume.load_state();
  if (!saved) return saved.error();
  // Restoring the device tells bar_changed() where each BAR decodes: the
  // claims adopt those windows and XenStore hears of them again.
  if (Status s = host_.restore(*saved); !s) {
    Error e = s.error();
    e.message = "restoring the device's saved state: " + e.message;
    return e;
  }
  return {};
}

void Daemon::save_state() {
  StateWriter out(state_buffer_);
  host_.device().save_state(out);
  state_sink_->save(state_buffer_);
}

void Daemon::abandon() {
  abandoned_ = true;
  host_.set_listener(nullptr);
  host_.device().abandon();
  claims_->forget();
  server_->abandon();
}

Daemon::~Daemon() {
  if (abandoned_) return;  // members release only what the kernel would
  host_.set_listener(nullptr);
  // 1. Nothing new reaches us once the claims are gone.
  claims_.reset();
  // 2. Disable the server, so that Xen sends it nothing more, then answer
  //    whatever a vCPU already put in its slot, so none stays blocked.
  if (server_) {
    if (unsigned n = server_->stop()) spdlog::info("answered {} request(s) in flight", n);
    const auto& st = server_->stats();
    const auto& ds = dispatcher_.stats();
    spdlog::info(
        "served {} requests: {} config, {} MMIO ({} through guest memory), {} malformed, {} "
        "guest-memory faults; {} spurious wake-ups",
        st.served, ds.config, ds.mmio, ds.through_memory, ds.malformed, ds.guest_mem_faults,
        st.spurious);
  }
  // 3. The device's own threads stop and it lets go of guest memory; then
  //    no guest page stays mapped.
  host_.device().shutdown();
  dma_.invalidate();
  const auto cs = dma_.stats();
  spdlog::info("guest memory: {} map / {} unmap calls, {} invalidations", cs.map_calls,
               cs.unmap_calls, cs.invalidations);
  // 4. Members: server_ unbinds the event channels, unmaps the page and
  //    destroys the server.
}

void Daemon::domain_gone() {
  spdlog::info("the domain is gone; Xen has released the ioreq server and its claims");
  claims_->forget();
  server_->domain_gone();
  request_stop();
}

void Daemon::device_status(std::string_view key, std::string_view value) {
  if (observer_) observer_->device_status(key, value);
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
