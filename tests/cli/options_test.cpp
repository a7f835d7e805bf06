#include "vgpu/app/options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace vgpu::app {
namespace {

ParseOutcome parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"vgpu-ioreqd"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

Options parse_ok(std::initializer_list<const char*> args) {
  ParseOutcome out = parse(args);
  EXPECT_TRUE(out.options.has_value()) << out.output;
  return out.options.value_or(Options{});
}

// Bad input: exit 2 and one line, starting with the program name, that
// contains `problem`.
void expect_rejected(std::initializer_list<const char*> args, const std::string& problem) {
  ParseOutcome out = parse(args);
  EXPECT_FALSE(out.options.has_value());
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_EQ(out.output.rfind("vgpu-ioreqd: ", 0), 0u) << out.output;
  EXPECT_EQ(out.output.find('\n'), std::string::npos) << out.output;
  EXPECT_NE(out.output.find(problem), std::string::npos) << out.output;
}

TEST(Options, MinimalCommandLineGetsTheDefaults) {
  const Options o = parse_ok({"--domid", "7", "--sbdf", "00:05.0"});
  EXPECT_EQ(o.domid, 7);
  EXPECT_EQ(o.sbdf, (pci::Sbdf{0, 0, 5, 0}));
  EXPECT_EQ(o.bar0_size, 4096u);
  EXPECT_EQ(o.class_code, 0x120000u);
  EXPECT_EQ(o.log_level, "info");
  EXPECT_EQ(o.log_file, "");
  EXPECT_EQ(o.pid_file, "");
  EXPECT_EQ(o.run_dir, "/run/vgpu-ioreqd");
}

TEST(Options, EveryOptionIsTakenIntoAccount) {
  const Options o = parse_ok({"--domid=32751", "--sbdf", "0001:1f:1f.7", "--bar0-size", "64K",
                              "--class", "0x030000", "--log-level", "debug", "--log-file",
                              "/tmp/v.log", "--pid-file", "/tmp/v.pid", "--run-dir", "/tmp/run"});
  EXPECT_EQ(o.domid, 32751);
  EXPECT_EQ(o.sbdf, (pci::Sbdf{1, 0x1f, 31, 7}));
  EXPECT_EQ(o.bar0_size, 65536u);
  EXPECT_EQ(o.class_code, 0x030000u);
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_EQ(o.log_file, "/tmp/v.log");
  EXPECT_EQ(o.pid_file, "/tmp/v.pid");
  EXPECT_EQ(o.run_dir, "/tmp/run");
}

TEST(Options, BarSizeAcceptsDecimalHexAndSuffixes) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"4096", 4096},   {"0x1000", 4096}, {"0X2000", 8192},
      {"4K", 4096},     {"64k", 65536},   {"64KiB", 65536},
      {"1M", 1u << 20}, {"1G", 1u << 30}, {"0x40000000", 1u << 30}};
  for (const auto& [text, bytes] : cases) {
    EXPECT_EQ(parse_ok({"--domid", "1", "--sbdf", "00:05.0", "--bar0-size", text}).bar0_size, bytes)
        << text;
  }
}

TEST(Options, ClassAcceptsHexAndDecimal) {
  EXPECT_EQ(parse_ok({"--domid", "1", "--sbdf", "00:05.0", "--class", "0xffffff"}).class_code,
            0xffffffu);
  EXPECT_EQ(parse_ok({"--domid", "1", "--sbdf", "00:05.0", "--class", "65536"}).class_code,
            0x10000u);
}

TEST(Options, DomidIsDecimalWithoutOctalSurprises) {
  EXPECT_EQ(parse_ok({"--domid", "010", "--sbdf", "00:05.0"}).domid, 10);
}

TEST(Options, RejectsBadDomids) {
  expect_rejected({"--domid", "seven", "--sbdf", "00:05.0"}, "domid 'seven' is not a number");
  expect_rejected({"--domid", "-1", "--sbdf", "00:05.0"}, "domid '-1' is not a number");
  expect_rejected({"--domid", "0", "--sbdf", "00:05.0"}, "domid 0 is Dom0, not a guest");
  expect_rejected({"--domid", "32752", "--sbdf", "00:05.0"}, "domid 32752 is reserved");
  expect_rejected({"--domid", "0x7ff0", "--sbdf", "00:05.0"}, "reserved");
  expect_rejected({"--domid", "99999999999999999999", "--sbdf", "00:05.0"}, "not a number");
}

TEST(Options, RejectsMalformedSbdfsNamingTheField) {
  expect_rejected({"--domid", "7", "--sbdf", "00:20.0"}, "device 0x20 > 31");
  expect_rejected({"--domid", "7", "--sbdf", "00:05.8"}, "function 8 > 7");
  expect_rejected({"--domid", "7", "--sbdf", "100:05.0"}, "bus 0x100 > 255");
  expect_rejected({"--domid", "7", "--sbdf", "nonsense"}, "malformed SBDF 'nonsense'");
}

TEST(Options, RejectsBadBarSizes) {
  const auto bar = [](const char* size, const std::string& problem) {
    expect_rejected({"--domid", "7", "--sbdf", "00:05.0", "--bar0-size", size}, problem);
  };
  bar("5000", "BAR0 size 5000 is not a power of two");
  bar("0x1001", "is not a power of two");
  bar("2048", "BAR0 size 2048 is below 4096 bytes");
  bar("0", "not a power of two");
  bar("2G", "BAR0 size 2147483648 exceeds 1 GiB");
  bar("big", "BAR0 size 'big' is not a size");
  bar("4Q", "BAR0 size '4Q' is not a size");
}

TEST(Options, MemLimitDefaultsTo256MiBAndTakesSizes) {
  EXPECT_EQ(parse_ok({"--domid", "7", "--sbdf", "00:05.0"}).mem_limit, 256ull << 20);
  for (auto [text, bytes] : {std::pair{"1G", 1ull << 30}, std::pair{"0x1000", 4096ull},
                             std::pair{"8192", 8192ull}, std::pair{"64G", 64ull << 30}}) {
    EXPECT_EQ(parse_ok({"--domid", "1", "--sbdf", "00:05.0", "--mem-limit", text}).mem_limit, bytes)
        << text;
  }
}

TEST(Options, RejectsBadMemLimits) {
  for (auto [text, problem] :
       {std::pair{"lots", "is not a size"}, std::pair{"0", "below 4 KiB"},
        std::pair{"4095", "below 4 KiB"}, std::pair{"5000", "not a multiple of 4 KiB"},
        std::pair{"65G", "above 64 GiB"}, std::pair{"-1", "is not a size"}}) {
    expect_rejected({"--domid", "7", "--sbdf", "00:05.0", "--mem-limit", text}, problem);
  }
}

TEST(Options, RejectsClassCodesWiderThan24Bits) {
  expect_rejected({"--domid", "7", "--sbdf", "00:05.0", "--class", "0x1000000"},
                  "class code 0x1000000 does not fit in 24 bits");
  expect_rejected({"--domid", "7", "--sbdf", "00:05.0", "--class", "vga"},
                  "class code 'vga' is not a number");
}

TEST(Options, RejectsUnknownOptionsAndArguments) {
  expect_rejected({"--domid", "7", "--sbdf", "00:05.0", "--frobnicate"}, "--frobnicate");
  expect_rejected({"--domid", "7", "--sbdf", "00:05.0", "extra"}, "extra");
}

TEST(Options, RejectsMissingRequiredOptions) {
  expect_rejected({"--sbdf", "00:05.0"}, "--domid is required");
  expect_rejected({"--domid", "7"}, "--sbdf is required");
  expect_rejected({}, "is required");
}

TEST(Options, RejectsBadLogLevels) {
  expect_rejected({"--domid", "7", "--sbdf", "00:05.0", "--log-level", "verbose"}, "verbose");
}

TEST(Options, TheDaemonHasNoSimulatorOptions) {
  expect_rejected({"--domid", "7", "--sbdf", "00:05.0", "--simulate"}, "--simulate");
  expect_rejected({"--domid", "7", "--sbdf", "00:05.0", "--vcpus", "2"}, "--vcpus");
}

// vgpu-sim's extra option: a range-checked unsigned with its default kept.
TEST(Options, ExtraOptionsAreParsedAndRangeChecked) {
  unsigned vcpus = 1;
  const ExtraOption extra[] = {{"--vcpus", "vCPUs", &vcpus, 1, 128}};
  const auto run = [&](std::initializer_list<const char*> args) {
    std::vector<const char*> argv{"vgpu-sim", "--domid", "1", "--sbdf", "00:05.0"};
    argv.insert(argv.end(), args.begin(), args.end());
    return parse_options(static_cast<int>(argv.size()), argv.data(), "vgpu-sim", {}, extra);
  };
  EXPECT_TRUE(run({}).options);
  EXPECT_EQ(vcpus, 1u);
  const ParseOutcome ok = run({"--vcpus", "128"});
  ASSERT_TRUE(ok.options);
  EXPECT_EQ(ok.options->program, "vgpu-sim");
  EXPECT_EQ(vcpus, 128u);
  for (const char* bad : {"0", "129", "two"}) {
    const ParseOutcome out = run({"--vcpus", bad});
    EXPECT_FALSE(out.options) << bad;
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_EQ(out.output.rfind("vgpu-sim: ", 0), 0u) << out.output;
    EXPECT_NE(out.output.find("--vcpus"), std::string::npos) << out.output;
  }
}

TEST(Options, HelpExitsZeroWithUsage) {
  const ParseOutcome out = parse({"--help"});
  EXPECT_FALSE(out.options.has_value());
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_NE(out.output.find("--domid"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("--sbdf"), std::string::npos) << out.output;
}

TEST(Options, VersionExitsZeroWithTheProjectVersion) {
  const ParseOutcome out = parse({"--version"});
  EXPECT_FALSE(out.options.has_value());
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_EQ(out.output.rfind("vgpu-ioreqd ", 0), 0u) << out.output;
  EXPECT_NE(out.output.find(VGPU_TEST_VERSION), std::string::npos) << out.output;
}

}  // namespace
}  // namespace vgpu::app
