#include "vgpu/app/options.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>
#include <string_view>

#include "vgpu/device/vgpu_stub.h"

namespace vgpu::app {

namespace {

// Domain ids from 0x7FF0 up are DOMID_FIRST_RESERVED and beyond (DOMID_SELF,
// DOMID_IO, ...), never guests.
constexpr uint64_t kFirstReservedDomid = 0x7FF0;
constexpr const char* kDefaultDescription =
    "Standalone Xen ioreq server emulating a vGPU stub PCI device";

// The whole of `text` as a number: "0x" hex, else decimal. Unlike strtoull
// (which CLI11 uses) there is no octal for a leading 0, no sign, no spaces.
std::optional<uint64_t> parse_number(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The validators below are CLI11 transforms: they check the text and rewrite
// it in plain decimal (or canonical form), so that CLI11's own conversion
// afterwards cannot read it differently. A non-empty return is the error,
// which CLI11 prefixes with the option name.

CLI::Validator domid_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto v = parse_number(text);
        if (!v) return fmt::format("domid '{}' is not a number", text);
        if (*v == 0) return "domid 0 is Dom0, not a guest";
        if (*v >= kFirstReservedDomid) {
          return fmt::format("domid {} is reserved (ids from {:#x} up are not guests)", *v,
                             kFirstReservedDomid);
        }
        text = std::to_string(*v);
        return {};
      },
      "1..32751", "DOMID");
}

CLI::Validator sbdf_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::string why;
        const auto sbdf = pci::parse_sbdf(text, &why);
        if (!sbdf) return why;
        text = sbdf->to_string();
        return {};
      },
      "[SSSS:]BB:DD.F", "SBDF");
}

// Bytes as "4096", "0x1000" or with a binary suffix ("4K", "64KiB", "1M").
std::optional<uint64_t> parse_size(std::string text) {
  if (auto hex_or_decimal = parse_number(text)) return hex_or_decimal;
  try {
    // kb_is_1000 = false: K, KB and KiB all mean 1024, as for BAR sizes.
    CLI::AsSizeValue as_size(false);
    if (!as_size(text).empty()) return std::nullopt;
  } catch (const CLI::ValidationError&) {
    return std::nullopt;
  }
  return parse_number(text);
}

CLI::Validator bar_size_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto v = parse_size(text);
        if (!v) return fmt::format("BAR0 size '{}' is not a size (try 4096, 0x1000 or 4K)", text);
        if (Status s = device::validate_bar0_size(*v); !s) return s.error().message;
        text = std::to_string(*v);
        return {};
      },
      "BYTES", "BAR_SIZE");
}

// Device memory: whole allocation granules, at least one, at most 64 GiB.
CLI::Validator mem_limit_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto v = parse_size(text);
        if (!v) return fmt::format("memory limit '{}' is not a size (try 256M or 1G)", text);
        if (Status s = device::validate_mem_limit(*v); !s) return s.error().message;
        text = std::to_string(*v);
        return {};
      },
      "BYTES", "MEM_LIMIT");
}

CLI::Validator class_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const auto v = parse_number(text);
        if (!v) return fmt::format("class code '{}' is not a number", text);
        if (Status s = device::validate_class_code(*v); !s) return s.error().message;
        text = std::to_string(*v);
        return {};
      },
      "0xCCSSPP", "CLASS");
}

// CLI11 messages may span lines; ours is one line on stderr (docs/spec.md §5).
std::string one_line(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

void add_guest_options(CLI::App& app, Options& opts, std::string& sbdf_text) {
  app.add_option("--domid", opts.domid, "Guest domain id")
      ->required()
      ->transform(domid_validator());
  app.add_option("--sbdf", sbdf_text, "PCI address the device appears at in the guest")
      ->required()
      ->transform(sbdf_validator());
  app.add_option("--bar0-size", opts.bar0_size, "BAR0 size: power of two, 4K..1G")
      ->transform(bar_size_validator())
      ->capture_default_str();
  app.add_option("--class", opts.class_code, "PCI class code (default Processing accelerator)")
      ->transform(class_validator())
      ->default_str("0x120000");
  app.add_option("--mem-limit", opts.mem_limit,
                 "Device memory the guest may allocate through the command queue")
      ->transform(mem_limit_validator())
      ->default_str("256M");
}

void add_daemon_options(CLI::App& app, Options& opts) {
  app.add_option("--log-level", opts.log_level, "Log level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-file", opts.log_file, "Log to this file instead of stderr");
  app.add_option("--pid-file", opts.pid_file, "Write the daemon's pid here");
  app.add_option("--run-dir", opts.run_dir, "Directory for the per-device lock files")
      ->capture_default_str();
  app.add_option("--user", opts.user,
                 "User (name or uid) the process serving the guest runs as "
                 "(default: vgpu-ioreqd if it exists, else nobody)");
}

void add_extra_options(CLI::App& app, std::span<const ExtraOption> extra) {
  for (const ExtraOption& e : extra) {
    app.add_option(e.name, *e.value, e.help)
        ->check(CLI::Range(e.min, e.max))
        ->capture_default_str();
  }
}

}  // namespace

int print_outcome(const ParseOutcome& outcome) {
  FILE* to = outcome.exit_code == 0 ? stdout : stderr;
  std::fputs(outcome.output.c_str(), to);
  if (!outcome.output.empty() && outcome.output.back() != '\n') std::fputc('\n', to);
  return outcome.exit_code;
}

ParseOutcome parse_options(int argc, const char* const* argv, const std::string& program,
                           const std::string& description, std::span<const ExtraOption> extra) {
  CLI::App app(description.empty() ? kDefaultDescription : description, program);
  app.set_version_flag("--version", program + " " + VGPU_VERSION);
  Options opts;
  opts.program = program;
  std::string sbdf_text;
  add_guest_options(app, opts, sbdf_text);
  add_daemon_options(app, opts);
  add_extra_options(app, extra);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    std::ostringstream out;
    std::ostringstream err;
    const int code = app.exit(e, out, err);
    return {std::nullopt, code, out.str()};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, 2, one_line(program + ": " + e.what())};
  }
  // The transform already accepted and normalised the text.
  opts.sbdf = *pci::parse_sbdf(sbdf_text);
  return {std::move(opts), 0, {}};
}

}  // namespace vgpu::app
