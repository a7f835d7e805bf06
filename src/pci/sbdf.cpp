#include "vgpu/pci/sbdf.h"

#include <charconv>
#include <cstdio>

namespace vgpu::pci {

std::string Sbdf::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", unsigned{segment}, unsigned{bus},
                unsigned{device}, unsigned{function});
  return buf;
}

namespace {

// One hex field of 1..max_digits digits, the whole of `s`.
std::optional<unsigned> parse_hex_field(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool fail(std::string* why, std::string msg) {
  if (why) *why = std::move(msg);
  return false;
}

}  // namespace

std::optional<Sbdf> parse_sbdf(std::string_view text, std::string* why) {
  // Built by appending: GCC 12 at -O3 warns (-Wrestrict, falsely) on the
  // operator+ chain.
  std::string quoted(1, '\'');
  quoted.append(text).push_back('\'');
  auto bad_form = [&] {
    fail(why, "malformed SBDF " + quoted + ": expected [SSSS:]BB:DD.F in hex");
    return std::nullopt;
  };

  std::string_view seg_s = "0";
  std::string_view rest = text;
  const size_t first = text.find(':');
  if (first == std::string_view::npos) return bad_form();
  if (text.find(':', first + 1) != std::string_view::npos) {
    seg_s = text.substr(0, first);
    rest = text.substr(first + 1);
  }
  const size_t colon = rest.find(':');
  const size_t dot = rest.find('.');
  if (colon == std::string_view::npos || dot == std::string_view::npos || dot < colon)
    return bad_form();

  // Parse generously (up to 4 digits) so that an out-of-range value is
  // reported as such rather than as a syntax error.
  auto seg = parse_hex_field(seg_s, 4);
  auto bus = parse_hex_field(rest.substr(0, colon), 4);
  auto dev = parse_hex_field(rest.substr(colon + 1, dot - colon - 1), 4);
  auto fn = parse_hex_field(rest.substr(dot + 1), 4);
  if (!seg || !bus || !dev || !fn) return bad_form();

  char num[16];
  if (*bus > 0xff) {
    std::snprintf(num, sizeof num, "0x%x", *bus);
    fail(why, "malformed SBDF " + quoted + ": bus " + num + " > 255");
    return std::nullopt;
  }
  if (*dev > 31) {
    std::snprintf(num, sizeof num, "0x%x", *dev);
    fail(why, "malformed SBDF " + quoted + ": device " + num + " > 31");
    return std::nullopt;
  }
  if (*fn > 7) {
    std::snprintf(num, sizeof num, "%u", *fn);
    fail(why, "malformed SBDF " + quoted + ": function " + num + " > 7");
    return std::nullopt;
  }
  return Sbdf{static_cast<uint16_t>(*seg), static_cast<uint8_t>(*bus), static_cast<uint8_t>(*dev),
              static_cast<uint8_t>(*fn)};
}

}  // namespace vgpu::pci
