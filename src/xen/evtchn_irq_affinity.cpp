#include "evtchn_irq_affinity.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vgpu::xen::detail {
namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<unsigned> parse_unsigned(std::string_view s) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

// The CPU list the kernel reports for `irq`: where it is delivered now if the
// kernel says (effective_affinity_list), else where it may be delivered.
std::optional<unsigned> irq_cpu(unsigned irq) {
  for (const char* file : {"effective_affinity_list", "smp_affinity_list"}) {
    if (auto text = read_text(fmt::format("/proc/irq/{}/{}", irq, file))) {
      if (auto cpu = first_cpu_in_list(trim(*text))) return cpu;
    }
  }
  return std::nullopt;
}

bool move_irq(unsigned irq, unsigned cpu) {
  std::ofstream out(fmt::format("/proc/irq/{}/smp_affinity_list", irq));
  out << cpu << '\n';
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace

std::string irq_thread_name(uint16_t domid) {
  return fmt::format("vgpu-d{}", domid);
}

ScopedThreadName::ScopedThreadName(const std::string& name) {
  std::array<char, 16> old{};  // TASK_COMM_LEN
  if (prctl(PR_GET_NAME, old.data()) != 0) return;
  old_ = old.data();
  renamed_ = prctl(PR_SET_NAME, name.c_str()) == 0;
}

ScopedThreadName::~ScopedThreadName() {
  if (renamed_) prctl(PR_SET_NAME, old_.c_str());
}

std::vector<unsigned> irqs_named(std::string_view proc_interrupts, std::string_view name) {
  std::vector<unsigned> irqs;
  while (!proc_interrupts.empty()) {
    const auto eol = proc_interrupts.find('\n');
    const std::string_view line = trim(proc_interrupts.substr(0, eol));
    proc_interrupts =
        eol == std::string_view::npos ? std::string_view{} : proc_interrupts.substr(eol + 1);

    // "  46:   1   1850  xen-dyn-lateeoi    -event     evtchn:vgpu-d1"
    const auto colon = line.find(':');
    const auto last_space = line.find_last_of(" \t");
    if (colon == std::string_view::npos || last_space == std::string_view::npos) continue;
    const auto irq = parse_unsigned(line.substr(0, colon));
    if (irq && line.substr(last_space + 1) == name) irqs.push_back(*irq);
  }
  return irqs;
}

std::optional<unsigned> first_cpu_in_list(std::string_view cpu_list) {
  const auto end = cpu_list.find_first_of(",-");
  return parse_unsigned(cpu_list.substr(0, end));
}

std::optional<unsigned> colocate_with_event_irqs(uint16_t domid,
                                                 std::optional<unsigned> previous_cpu) {
  const std::string name = "evtchn:" + irq_thread_name(domid);
  const auto text = read_text("/proc/interrupts");
  if (!text) {
    spdlog::debug("cannot read /proc/interrupts; event-channel IRQs left where they are");
    return std::nullopt;
  }
  const std::vector<unsigned> irqs = irqs_named(*text, name);
  if (irqs.empty()) {
    spdlog::debug("no IRQ named {} in /proc/interrupts; serving thread not pinned", name);
    return std::nullopt;
  }

  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return std::nullopt;
  // The first IRQ's CPU if we may run there (an administrator's CPUAffinity
  // wins); else the CPU we run on now, and the IRQs come to us.
  std::optional<unsigned> target = irq_cpu(irqs.front());
  if (!target || *target >= CPU_SETSIZE || !CPU_ISSET(*target, &allowed)) {
    const int here = sched_getcpu();
    if (here < 0) return std::nullopt;
    target = static_cast<unsigned>(here);
  }

  std::vector<unsigned> unmoved;
  for (unsigned irq : irqs) {
    if (irq_cpu(irq) != target && !move_irq(irq, *target)) unmoved.push_back(irq);
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(*target, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) {
    spdlog::warn("could not pin the serving thread to CPU {} ({}); serving unpinned", *target,
                 std::strerror(errno));
    return std::nullopt;
  }
  // At info when the CPU is new (the first bind), at debug when unchanged.
  spdlog::log(
      previous_cpu == target ? spdlog::level::debug : spdlog::level::info,
      "event-channel IRQ(s) {} ({}) on CPU {}{}; serving thread pinned there", irqs, name, *target,
      unmoved.empty() ? std::string() : fmt::format(" (IRQ(s) {} could not be moved)", unmoved));
  return target;
}

}  // namespace vgpu::xen::detail
