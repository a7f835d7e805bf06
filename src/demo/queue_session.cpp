#include "queue_session.h"

#include <bit>
#include <cstdio>
#include <span>
#include <utility>
#include <vector>

#include "vgpu/compute/crc32c.h"
#include "vgpu/queue/protocol.h"
#include "vgpu/sim/sim_queue_driver.h"

namespace vgpu::demo {

namespace qr = queue::qregs;
using queue::Opcode;
using sim::SimQueueDriver;

bool run_queue_session(sim::SimHypervisor& hv, sim::SimGuest& guest, pci::Sbdf sbdf) {
  constexpr uint64_t kN = 1024;
  constexpr float kA = 2.5f;
  constexpr uint64_t kX = 0x300000, kY = 0x310000, kOut = 0x320000;
  sim::GuestBar0Port port(guest, sbdf);
  SimQueueDriver drv(hv.memory(), port);
  hv.clear_calls();
  const uint32_t status = drv.enable();
  std::printf("\nqueue: version %#x, QUEUE_STATUS=%#x (%s), MEM_TOTAL=%llu\n",
              drv.reg(qr::kVersion), status, status == queue::kStatusReady ? "READY" : "not ready",
              static_cast<unsigned long long>(drv.reg64(qr::kMemTotal)));
  if (status != queue::kStatusReady) return false;
  std::vector<float> x(kN), y(kN);
  for (uint64_t i = 0; i < kN; ++i) x[i] = static_cast<float>(i), y[i] = 1.0f;
  (void)hv.memory().guest_write(kX, std::as_bytes(std::span(x)));
  (void)hv.memory().guest_write(kY, std::as_bytes(std::span(y)));
  auto ok = [](const queue::CompletionEntry& c) { return (c.status_phase >> 1) == 0; };
  const auto hx = drv.run(SimQueueDriver::entry(Opcode::kAlloc, 1, {kN * 4}));
  const auto hy = drv.run(SimQueueDriver::entry(Opcode::kAlloc, 2, {kN * 4}));
  std::printf("queue: ALLOC x -> handle %#llx, ALLOC y -> handle %#llx, MEM_FREE=%llu\n",
              static_cast<unsigned long long>(hx.result),
              static_cast<unsigned long long>(hy.result),
              static_cast<unsigned long long>(drv.reg64(qr::kMemFree)));
  drv.put(SimQueueDriver::entry(Opcode::kWrite, 3,
                                {hx.result, 0, kN * 4, drv.write_list_for(kX, kN * 4), 1}));
  const uint64_t ly =
      drv.write_list(std::vector<std::pair<uint64_t, uint32_t>>{{kY, kN * 4}}, 0x121000);
  const uint64_t lo =
      drv.write_list(std::vector<std::pair<uint64_t, uint32_t>>{{kOut, kN * 4}}, 0x122000);
  drv.put(SimQueueDriver::entry(Opcode::kWrite, 4, {hy.result, 0, kN * 4, ly, 1}));
  drv.put(SimQueueDriver::entry(Opcode::kSaxpy, 5,
                                {hx.result, hy.result, kN, std::bit_cast<uint32_t>(kA)}));
  drv.put(SimQueueDriver::entry(Opcode::kCrc32c, 6, {hy.result, 0, kN * 4}));
  drv.put(SimQueueDriver::entry(Opcode::kRead, 7, {hy.result, 0, kN * 4, lo, 1}));
  drv.ring();  // one doorbell for the batch
  bool all_ok = ok(hx) && ok(hy) && hx.result != 0 && hy.result != 0;
  uint64_t crc = 0;
  for (uint32_t id = 3; id <= 7; ++id) {
    const auto c = drv.poll();
    all_ok = all_ok && c && ok(*c) && c->command_id == id;
    if (c && id == 6) crc = c->result;
  }
  drv.release();
  std::vector<float> out(kN);
  (void)hv.memory().guest_read(kOut, std::as_writable_bytes(std::span(out)));
  unsigned wrong = 0;
  for (uint64_t i = 0; i < kN; ++i) wrong += out[i] != kA * x[i] + y[i];
  const uint32_t want_crc = compute::crc32c_extend(0, std::as_bytes(std::span(out)));
  unsigned msis = 0;
  for (const auto& call : hv.calls()) msis += call.kind == sim::SimCallKind::kInjectMsi;
  std::printf("queue: WRITE x, WRITE y, SAXPY a=%.1f, CRC32C, READ y in one batch -> %s\n", kA,
              all_ok ? "all SUCCESS" : "FAILED");
  std::printf("queue: y[0..3] = %.1f %.1f %.1f %.1f (want %.1f %.1f %.1f %.1f), %u of %llu wrong\n",
              out[0], out[1], out[2], out[3], kA * x[0] + 1, kA * x[1] + 1, kA * x[2] + 1,
              kA * x[3] + 1, wrong, static_cast<unsigned long long>(kN));
  std::printf("queue: CRC32C=%#010llx (computed in the guest: %#010x), COMPLETIONS=%u, MSIs=%u\n",
              static_cast<unsigned long long>(crc), want_crc, drv.reg(qr::kCompletions), msis);
  drv.disable();
  const bool session_ok = all_ok && wrong == 0 && crc == want_crc;
  std::printf("queue: disabled, MEM_FREE=%llu -> %s\n",
              static_cast<unsigned long long>(drv.reg64(qr::kMemFree)),
              session_ok ? "ok" : "FAILED");
  return session_ok;
}

}  // namespace vgpu::demo
