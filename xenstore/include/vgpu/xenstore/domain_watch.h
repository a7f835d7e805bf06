// DomainWatch: tells the daemon when its guest has been destroyed (spec
// section 6 step 4). xenstored fires "@releaseDomain" whenever *any* domain
// goes away, so each event is checked against the caller's own view of
// whether the target domain still exists.
//
// Thread-compatibility: used from the daemon's event-loop thread only.
#pragma once

#include <functional>
#include <memory>

#include "vgpu/common/result.h"
#include "vgpu/xenstore/store.h"

namespace vgpu::xenstore {

class DomainWatch {
 public:
  // True while the target domain exists (and, if the caller wishes, is not
  // dying). The daemon passes one built on Hypervisor::domain_info().
  using ExistsFn = std::function<bool()>;

  static constexpr const char* kToken = "vgpu-ioreqd:release-domain";

  // Registers the @releaseDomain watch on `store`, which must outlive the
  // DomainWatch. The daemon should use the store's watches only through
  // this class: domain_gone() consumes every fired watch.
  static Result<std::unique_ptr<DomainWatch>> start(Store& store, ExistsFn domain_exists);
  ~DomainWatch();
  DomainWatch(const DomainWatch&) = delete;
  DomainWatch& operator=(const DomainWatch&) = delete;

  // Poll for readability; then call domain_gone().
  int fd() const { return store_.watch_fd(); }

  // Drains the fired watches; true if @releaseDomain fired and the domain no
  // longer exists. Once true, stays true.
  Result<bool> domain_gone();

 private:
  DomainWatch(Store& store, ExistsFn domain_exists);

  Store& store_;
  ExistsFn domain_exists_;
  bool gone_ = false;
};

}  // namespace vgpu::xenstore
