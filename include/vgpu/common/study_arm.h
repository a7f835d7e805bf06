// Variants of the daemon for the guest crash study (docs/e2e.md, "Guest crash
// study"): each switches off or changes one behaviour, so that the study can
// tell which one, if any, raises the rate of guest crashes under emulation.
//
// They exist only in a build configured with -DVGPU_STUDY_ARMS=ON (never the
// shipped one, where every is() below is a constant false and the hooks fold
// away). In that build the environment variable VGPU_STUDY_ARM selects one
// arm at start-up; unset or unknown means the daemon as shipped.
#pragma once

#ifdef VGPU_STUDY_ARMS
#include <cstdlib>
#include <cstring>
#endif

namespace vgpu::study {

enum class Arm {
  kShipped,        // (unset) the daemon as shipped
  kNoPin,          // "no-pin": event-channel IRQs and serving thread left where Linux put them
  kNoXenstoreBar,  // "no-xs-bar": BAR0 moves are not published in XenStore
  kClaimKeep,      // "claim-keep": the first BAR0 MMIO claim is kept through decode toggles
  kMinResponder,   // "min-responder": every request answered as an absent device (reads all ones)
};

#ifdef VGPU_STUDY_ARMS
inline Arm arm_from_env() {
  const char* v = std::getenv("VGPU_STUDY_ARM");
  if (v == nullptr) return Arm::kShipped;
  if (std::strcmp(v, "no-pin") == 0) return Arm::kNoPin;
  if (std::strcmp(v, "no-xs-bar") == 0) return Arm::kNoXenstoreBar;
  if (std::strcmp(v, "claim-keep") == 0) return Arm::kClaimKeep;
  if (std::strcmp(v, "min-responder") == 0) return Arm::kMinResponder;
  return Arm::kShipped;
}
inline bool is(Arm a) {
  static const Arm selected = arm_from_env();
  return selected == a;
}
#else
constexpr bool is(Arm) {
  return false;
}
#endif

}  // namespace vgpu::study
