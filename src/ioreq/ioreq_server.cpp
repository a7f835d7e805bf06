#include "vgpu/ioreq/ioreq_server.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "vgpu/common/release_log.h"
#include "vgpu/common/study_arm.h"

namespace vgpu::ioreq {

namespace {

// A process killed with SIGKILL closes its event channels as it exits,
// which takes moments after its parent (our predecessor) died.
constexpr auto kTakeOverPatience = std::chrono::milliseconds(3000);
constexpr auto kBindRetry = std::chrono::milliseconds(2);

}  // namespace

Result<std::unique_ptr<IoreqServer>> IoreqServer::start(hv::Hypervisor& hv, Dispatcher& dispatcher,
                                                        const CreatedHook& created) {
  std::unique_ptr<IoreqServer> server(new IoreqServer(hv, dispatcher));
  if (Status s = server->acquire(std::nullopt, created); !s) return s.error();
  return server;
}

Result<std::unique_ptr<IoreqServer>> IoreqServer::attach(hv::Hypervisor& hv, Dispatcher& dispatcher,
                                                         hv::ServerId id) {
  std::unique_ptr<IoreqServer> server(new IoreqServer(hv, dispatcher));
  if (Status s = server->acquire(id, {}); !s) return s.error();
  return server;
}

IoreqServer::~IoreqServer() {
  stop();
  // Members release in reverse: ports, (enabled: done), page, server. Say
  // so, since a half-torn-down server is what an administrator debugs.
  if (server_.armed()) spdlog::debug("releasing ioreq server {}", id_);
}

unsigned IoreqServer::stop() {
  if (!enabled_.armed()) return 0;
  enabled_.reset();
  // A vCPU can only be waiting on us once every port is bound (the claims
  // come after start()); the answer's notify needs its port.
  return local_port_.size() == vcpus_ ? drain() : 0;
}

// A new server (`existing` empty), or one a dead daemon left (a restart):
// the same steps, except that a restart finds the server instead of
// creating it, and its event channel ends may still be closing.
Status IoreqServer::acquire(std::optional<hv::ServerId> existing, const CreatedHook& created) {
  auto vcpus = hv_.vcpu_count();
  if (!vcpus) return vcpus.error();
  if (*vcpus == 0 || *vcpus > abi::kMaxVcpus)
    return Error{EINVAL, "domain reports " + std::to_string(*vcpus) + " vCPUs; supported 1.." +
                             std::to_string(abi::kMaxVcpus)};
  vcpus_ = *vcpus;
  trace_ = TraceRing(vcpus_);

  auto destroy = [this] {
    if (domain_gone_) return;
    log_release_failure("destroying ioreq server " + std::to_string(id_),
                        hv_.destroy_ioreq_server(id_));
  };
  if (existing) {
    id_ = *existing;
  } else {
    auto id = hv_.create_ioreq_server();
    if (!id) return id.error();
    id_ = *id;
    server_ = ScopedRelease(destroy);
    if (created) created(id_);
  }
  auto page = hv_.map_ioreq_page(id_);
  if (!page) return page.error();
  page_ = *page;
  // A taken-over server is ours to destroy once mapping its page has shown
  // that it exists.
  if (existing) server_ = ScopedRelease(destroy);
  page_mapping_ = ScopedRelease([this] { hv_.unmap_ioreq_page(std::exchange(page_, nullptr)); });

  // A taken-over server is enabled unless the dead daemon was tearing
  // down; Xen takes a second enable as a no-op.
  if (Status s = hv_.set_ioreq_server_enabled(id_, true); !s) return s;
  enabled_ = ScopedRelease([this] {
    if (domain_gone_) return;
    log_release_failure("disabling ioreq server " + std::to_string(id_),
                        hv_.set_ioreq_server_enabled(id_, false));
  });

  if (Status s = bind_ports(existing ? kTakeOverPatience : std::chrono::milliseconds(0)); !s)
    return s;
  if (existing)
    spdlog::info("took over ioreq server {}, {} vCPU event channel(s) bound again", id_, vcpus_);
  else
    spdlog::info("ioreq server {} enabled, {} vCPU event channel(s) bound", id_, vcpus_);
  return {};
}

void IoreqServer::abandon() {
  server_.release();
  enabled_.release();
}

unsigned IoreqServer::resume() {
  unsigned n = 0;
  for (unsigned v = 0; v < vcpus_; ++v) {
    const uint8_t state = abi::load_state(&page_[v]);
    if (state == STATE_IOREQ_READY || state == STATE_IOREQ_INPROCESS) {
      n += answer(v, state) ? 1 : 0;
    } else if (state == STATE_IORESP_READY) {
      if (Status s = hv_.event_channels().notify(local_port_[v]); !s)
        spdlog::error("notifying vCPU {}: {}", v, s.error().describe());
    }
  }
  return n;
}

// vp_eport is only meaningful now that the server is enabled: Xen
// writes it at enable time.
Status IoreqServer::bind_ports(std::chrono::milliseconds patience) {
  hv::EventChannels& evtchn = hv_.event_channels();
  ports_ = ScopedRelease([this] {
    for (hv::Port p : local_port_)
      log_release_failure("unbinding event channel " + std::to_string(p),
                          hv_.event_channels().unbind(p));
    local_port_.clear();
  });
  for (unsigned v = 0; v < vcpus_; ++v) {
    const hv::Port remote = page_[v].vp_eport;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    auto local = evtchn.bind(remote);
    while (!local && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(kBindRetry);
      local = evtchn.bind(remote);
    }
    if (!local) {
      Error e = local.error();
      e.message = "binding vCPU " + std::to_string(v) + " event channel " + std::to_string(remote) +
                  ": " + e.message;
      return e;
    }
    local_port_.push_back(*local);
    if (*local >= vcpu_of_port_.size()) vcpu_of_port_.resize(*local + 1, -1);
    vcpu_of_port_[*local] = static_cast<int32_t>(v);
  }
  return {};
}

int IoreqServer::fd() const {
  return hv_.event_channels().fd();
}

Status IoreqServer::on_event() {
  hv::EventChannels& evtchn = hv_.event_channels();
  auto port = evtchn.pending();
  if (!port) return port.error();
  if (!*port) return {};  // woken with nothing pending
  ++stats_.wakeups;
  const hv::Port p = **port;
  if (Status s = evtchn.unmask(p); !s) return s;
  if (p >= vcpu_of_port_.size() || vcpu_of_port_[p] < 0) {
    spdlog::warn("event on unknown local port {}", p);
    return {};
  }
  if (!serve(static_cast<unsigned>(vcpu_of_port_[p]))) ++stats_.spurious;
  return {};
}

bool IoreqServer::serve(unsigned vcpu) {
  return answer(vcpu, STATE_IOREQ_READY);
}

bool IoreqServer::answer(unsigned vcpu, uint8_t expected_state) {
  ioreq_t* slot = &page_[vcpu];
  // Acquire: everything Xen wrote before publishing READY is visible below.
  if (const uint8_t state = abi::load_state(slot); state != expected_state) {
    trace_.not_ready(vcpu, state);
    return false;
  }

  ioreq_t req = *slot;  // act on a private copy only
  TraceEntry& traced = trace_.taken(vcpu, req);
  abi::store_state(slot, STATE_IOREQ_INPROCESS);
  if (study::is(study::Arm::kMinResponder))
    req.data = ~uint64_t{0};
  else
    dispatcher_.dispatch(req);
  if (req.dir == IOREQ_READ) slot->data = req.data;
  if (before_answer_) before_answer_(req);
  TraceRing::answered(traced, slot);
  // Release: the data is in the slot before Xen can see IORESP_READY.
  abi::store_state(slot, STATE_IORESP_READY);
  ++stats_.served;

  if (Status s = hv_.event_channels().notify(local_port_[vcpu]); !s)
    spdlog::error("notifying vCPU {}: {}", vcpu, s.error().describe());
  return true;
}

unsigned IoreqServer::drain() {
  unsigned n = 0;
  for (unsigned v = 0; v < vcpus_; ++v) n += serve(v) ? 1 : 0;
  return n;
}

}  // namespace vgpu::ioreq
