#include "vgpu/xenstore/domain_watch.h"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include "vgpu/xenstore/paths.h"

namespace vgpu::xenstore {

Result<std::unique_ptr<DomainWatch>> DomainWatch::start(Store& store, ExistsFn domain_exists) {
  if (auto st = store.watch(std::string(kReleaseDomainPath), kToken); !st) return st.error();
  return std::unique_ptr<DomainWatch>(new DomainWatch(store, std::move(domain_exists)));
}

DomainWatch::DomainWatch(Store& store, ExistsFn domain_exists)
    : store_(store), domain_exists_(std::move(domain_exists)) {}

DomainWatch::~DomainWatch() {
  if (auto st = store_.unwatch(std::string(kReleaseDomainPath), kToken); !st) {
    spdlog::debug("XenStore: unwatch @releaseDomain: {}", st.error().describe());
  }
}

Result<bool> DomainWatch::domain_gone() {
  bool released = false;
  for (;;) {
    auto event = store_.read_watch();
    if (!event) return event.error();
    if (!event.value()) break;
    if (event.value()->token == kToken) released = true;
  }
  // The check runs once per wake-up however many domains went, and also for
  // the event xenstored fires when the watch is registered (harmless).
  if (released && !gone_ && !domain_exists_()) {
    spdlog::info("XenStore: @releaseDomain fired and the target domain is gone");
    gone_ = true;
  }
  return gone_;
}

}  // namespace vgpu::xenstore
