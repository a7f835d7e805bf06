#include "vgpu/xenstore/paths.h"

#include <fmt/format.h>

namespace vgpu::xenstore {

std::string keys::bar(unsigned index) {
  return fmt::format("bar{}", index);
}

std::string keys::bar_size(unsigned index) {
  return fmt::format("bar{}-size", index);
}

XenstorePaths XenstorePaths::for_domain(uint16_t domid) {
  XenstorePaths p;
  p.domid = domid;
  p.backend_type_dir = fmt::format("/local/domain/{}/backend/vgpu", kBackendDomid);
  p.backend_domain_dir = fmt::format("{}/{}", p.backend_type_dir, domid);
  p.backend = fmt::format("{}/{}", p.backend_domain_dir, kDevid);
  p.frontend_type_dir = fmt::format("/local/domain/{}/device/vgpu", domid);
  p.frontend = fmt::format("{}/{}", p.frontend_type_dir, kDevid);
  return p;
}

std::string XenstorePaths::backend_key(std::string_view key) const {
  return fmt::format("{}/{}", backend, key);
}

std::string XenstorePaths::frontend_key(std::string_view key) const {
  return fmt::format("{}/{}", frontend, key);
}

std::vector<std::string> XenstorePaths::shared_parents() const {
  return {backend_type_dir, backend_domain_dir, frontend_type_dir};
}

}  // namespace vgpu::xenstore
