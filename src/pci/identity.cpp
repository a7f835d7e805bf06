#include "vgpu/pci/identity.h"

#include <bit>
#include <cstdio>

#include "vgpu/common/hex.h"
#include "vgpu/pci/config_space.h"

namespace vgpu::pci {

namespace {

Status validate_bar(const DeviceIdentity& id, unsigned index) {
  const BarSpec& bar = id.bars[index];
  const std::string name = "BAR" + std::to_string(index);
  const std::string size = std::to_string(bar.size);
  if (!std::has_single_bit(bar.size))
    return Error{0, name + " size " + size + " is not a power of two"};
  const uint64_t max = bar.is_64bit ? kMaxBar64Size : kMaxBar32Size;
  if (bar.size < kMinBarSize || bar.size > max) {
    return Error{0, name + " size " + size + " is outside " + std::to_string(kMinBarSize) + " .. " +
                        std::to_string(max) + " bytes"};
  }
  if (bar.is_64bit && (index + 1 >= kBarCount || id.bars[index + 1].implemented())) {
    return Error{0, name + " is 64-bit, so BAR" + std::to_string(index + 1) +
                        " must exist and be left unimplemented"};
  }
  return ok_status();
}

uint32_t bar_flags(const BarSpec& bar) {
  return (bar.is_64bit ? kBarMemType64 : 0) | (bar.prefetchable ? kBarPrefetchable : 0);
}

}  // namespace

std::string DeviceIdentity::summary() const {
  char ids[sizeof "ffff:ffff class 0xffffff"];
  std::snprintf(ids, sizeof ids, "%04x:%04x class %#08x", unsigned{vendor_id}, unsigned{device_id},
                class_code);
  std::string text = ids;
  for (unsigned i = 0; i < kBarCount; ++i) {
    if (!bars[i].implemented()) continue;
    text += ", BAR" + std::to_string(i) + " " + std::to_string(bars[i].size) + " bytes " +
            (bars[i].is_64bit ? "64-bit" : "32-bit") +
            (bars[i].prefetchable ? " prefetchable" : "");
  }
  return text;
}

Status validate(const DeviceIdentity& id) {
  if (id.class_code > kMaxClassCode) {
    return Error{0, "class code " + hex(id.class_code) + " does not fit in 24 bits"};
  }
  for (unsigned i = 0; i < kBarCount; ++i) {
    if (!id.bars[i].implemented()) continue;
    if (Status s = validate_bar(id, i); !s) return s;
  }
  return ok_status();
}

Status apply_identity(ConfigSpace& config, const DeviceIdentity& id) {
  if (Status s = validate(id); !s) return s;
  config.store(kVendorId, 2, id.vendor_id);
  config.store(kDeviceId, 2, id.device_id);
  config.store(kRevisionId, 1, id.revision);
  config.store(kClassProgIf, 3, id.class_code);
  config.store(kHeaderType, 1, kHeaderTypeNormal);
  config.store(kSubsystemVendorId, 2, id.subsystem_vendor_id);
  config.store(kSubsystemId, 2, id.subsystem_id);
  for (unsigned i = 0; i < kBarCount; ++i) {
    const BarSpec& bar = id.bars[i];
    if (!bar.implemented()) continue;
    if (Status s = config.register_bar(i, bar.size, bar_flags(bar)); !s) return s;
  }
  return ok_status();
}

}  // namespace vgpu::pci
