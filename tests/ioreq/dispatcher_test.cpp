#include "vgpu/ioreq/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "../support/fakes.h"
#include "../support/log_capture.h"

namespace vgpu::ioreq {
namespace {

using ::testing::_;
using ::testing::InSequence;
using ::testing::Return;
using ::testing::StrictMock;
using vgpu::testing::FakeGuestMemory;
using vgpu::testing::make_ioreq;
using vgpu::testing::MockIoHandler;

constexpr uint32_t kSbdf0005 = 0x28;  // 00:05.0
constexpr uint64_t kBar = 0xf0000000;

class DispatcherTest : public ::testing::Test {
 protected:
  StrictMock<MockIoHandler> handler;
  FakeGuestMemory memory;
  Dispatcher dispatcher{handler, memory.dma};
};

TEST_F(DispatcherTest, PciConfigReadDecodesSbdfFromHighHalfAndOffsetFromLowHalf) {
  EXPECT_CALL(handler, config_read(kSbdf0005, 0x10u, 4u)).WillOnce(Return(0xfffff000u));
  ioreq_t r =
      make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, abi::pci_config_addr(kSbdf0005, 0x10), 4);
  EXPECT_EQ(dispatcher.dispatch(r), Outcome::kHandled);
  EXPECT_EQ(r.data, 0xfffff000u);
}

TEST_F(DispatcherTest, PciConfigAddressCarriesSegmentBusDeviceFunction) {
  // 0001:02:1f.7 -> seg 1 << 16 | bus 2 << 8 | dev 31 << 3 | fn 7
  const uint32_t sbdf = 1u << 16 | 2u << 8 | 31u << 3 | 7u;
  EXPECT_CALL(handler, config_read(sbdf, 0x3e, 2u)).WillOnce(Return(0x1234u));
  ioreq_t r = make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, 0x0001'02ffULL << 32 | 0x3e, 2);
  dispatcher.dispatch(r);
  EXPECT_EQ(r.data, 0x1234u);
}

TEST_F(DispatcherTest, PciConfigWriteDataIsMaskedToAccessSize) {
  EXPECT_CALL(handler, config_write(kSbdf0005, 0x3c, 1u, 0xddu));
  ioreq_t r = make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_WRITE, abi::pci_config_addr(kSbdf0005, 0x3c),
                         1, 0xaabbccddULL);
  EXPECT_EQ(dispatcher.dispatch(r), Outcome::kHandled);
}

TEST_F(DispatcherTest, PciConfigLastDwordOfExtendedSpaceIsAccepted) {
  EXPECT_CALL(handler, config_read(kSbdf0005, 0xffcu, 4u)).WillOnce(Return(0u));
  ioreq_t r =
      make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, abi::pci_config_addr(kSbdf0005, 0xffc), 4);
  EXPECT_EQ(dispatcher.dispatch(r), Outcome::kHandled);
  EXPECT_EQ(r.data, 0u);
}

TEST_F(DispatcherTest, PciConfigMalformedSizesReadAllOnesWithoutTouchingDevice) {
  for (uint32_t size : {0u, 3u, 8u, 16u}) {
    ioreq_t r =
        make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, abi::pci_config_addr(kSbdf0005, 0), size);
    EXPECT_EQ(dispatcher.dispatch(r), Outcome::kMalformed) << size;
    EXPECT_EQ(r.data, ~uint64_t{0}) << size;
  }
  EXPECT_EQ(dispatcher.stats().malformed, 4u);
}

TEST_F(DispatcherTest, PciConfigBeyondFourKibIsRejected) {
  for (uint32_t off : {0x1000u, 0xfffu, 0xffffffffu}) {
    ioreq_t r =
        make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, abi::pci_config_addr(kSbdf0005, off), 2);
    EXPECT_EQ(dispatcher.dispatch(r), Outcome::kMalformed) << std::hex << off;
  }
  ioreq_t w =
      make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_WRITE, abi::pci_config_addr(kSbdf0005, 0x1000), 4);
  EXPECT_EQ(dispatcher.dispatch(w), Outcome::kMalformed);
}

TEST_F(DispatcherTest, PciConfigWithRepOrPointerIsRejected) {
  ioreq_t rep =
      make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, abi::pci_config_addr(kSbdf0005, 0), 4, 0, 2);
  EXPECT_EQ(dispatcher.dispatch(rep), Outcome::kMalformed);
  ioreq_t ptr = make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_WRITE, abi::pci_config_addr(kSbdf0005, 0),
                           4, 0x10000);
  ptr.data_is_ptr = 1;
  EXPECT_EQ(dispatcher.dispatch(ptr), Outcome::kMalformed);
}

TEST_F(DispatcherTest, MmioReadsEveryValidWidth) {
  for (uint32_t size : {1u, 2u, 4u, 8u}) {
    EXPECT_CALL(handler, mmio_read(kBar + 0x20, size)).WillOnce(Return(0x0102030405060708ULL));
    ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar + 0x20, size);
    EXPECT_EQ(dispatcher.dispatch(r), Outcome::kHandled);
    EXPECT_EQ(r.data, 0x0102030405060708ULL);
  }
}

TEST_F(DispatcherTest, MmioMalformedSizesAndCountsAreRejected) {
  for (uint32_t size : {0u, 3u, 5u, 16u}) {
    ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, size);
    EXPECT_EQ(dispatcher.dispatch(r), Outcome::kMalformed) << size;
    EXPECT_EQ(r.data, ~uint64_t{0});
  }
  ioreq_t none = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 4, 1, 0);
  EXPECT_EQ(dispatcher.dispatch(none), Outcome::kMalformed);
  ioreq_t huge = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 4, 1, 0xffffffffu);
  EXPECT_EQ(dispatcher.dispatch(huge), Outcome::kMalformed);
  ioreq_t over = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 1, 1, kMaxRepCount + 1);
  EXPECT_EQ(dispatcher.dispatch(over), Outcome::kMalformed);
}

TEST_F(DispatcherTest, RepStosWritesSameValueStepingUpWhenDfClear) {
  InSequence seq;
  EXPECT_CALL(handler, mmio_write(kBar + 0x20, 4u, 0xabcdu));
  EXPECT_CALL(handler, mmio_write(kBar + 0x24, 4u, 0xabcdu));
  EXPECT_CALL(handler, mmio_write(kBar + 0x28, 4u, 0xabcdu));
  ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar + 0x20, 4, 0xffffffff0000abcdULL, 3);
  EXPECT_EQ(dispatcher.dispatch(r), Outcome::kHandled);
}

TEST_F(DispatcherTest, RepStepsDownWhenDfSet) {
  InSequence seq;
  EXPECT_CALL(handler, mmio_write(kBar + 0x28, 2u, 0x7u));
  EXPECT_CALL(handler, mmio_write(kBar + 0x26, 2u, 0x7u));
  ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar + 0x28, 2, 7, 2);
  r.df = 1;
  dispatcher.dispatch(r);
}

TEST_F(DispatcherTest, RepReadWithoutPointerReturnsLastElement) {
  InSequence seq;
  EXPECT_CALL(handler, mmio_read(kBar, 1u)).WillOnce(Return(0x11));
  EXPECT_CALL(handler, mmio_read(kBar + 1, 1u)).WillOnce(Return(0x22));
  ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 1, 0, 2);
  dispatcher.dispatch(r);
  EXPECT_EQ(r.data, 0x22u);
}

TEST_F(DispatcherTest, PointerWriteReadsEachElementFromGuestMemory) {
  memory.put<uint32_t>(0x10000, 0xa1);
  memory.put<uint32_t>(0x10004, 0xb2);
  InSequence seq;
  EXPECT_CALL(handler, mmio_write(kBar + 0x20, 4u, 0xa1u));
  EXPECT_CALL(handler, mmio_write(kBar + 0x24, 4u, 0xb2u));
  ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar + 0x20, 4, 0x10000, 2);
  r.data_is_ptr = 1;
  EXPECT_EQ(dispatcher.dispatch(r), Outcome::kHandled);
}

TEST_F(DispatcherTest, PointerReadStoresElementsIntoGuestMemoryBothStepsFollowDf) {
  EXPECT_CALL(handler, mmio_read(kBar + 0x30, 8u)).WillOnce(Return(0x1111222233334444ULL));
  EXPECT_CALL(handler, mmio_read(kBar + 0x28, 8u)).WillOnce(Return(0x5555666677778888ULL));
  ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar + 0x30, 8, 0x10ff8, 2);
  r.data_is_ptr = 1;
  r.df = 1;
  EXPECT_EQ(dispatcher.dispatch(r), Outcome::kHandled);
  // The first element lands where data points, straddling nothing; the
  // second 8 bytes below it.
  EXPECT_EQ(memory.get<uint64_t>(0x10ff8), 0x1111222233334444ULL);
  EXPECT_EQ(memory.get<uint64_t>(0x10ff0), 0x5555666677778888ULL);
  EXPECT_EQ(r.data, 0x10ff8u) << "a pointer request's data field is not a result";
}

TEST_F(DispatcherTest, PointerElementMayStraddleAGuestPage) {
  memory.put<uint32_t>(0x10ffe, 0xcafef00d);
  EXPECT_CALL(handler, mmio_write(kBar, 4u, 0xcafef00du));
  ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 4, 0x10ffe, 1);
  r.data_is_ptr = 1;
  EXPECT_EQ(dispatcher.dispatch(r), Outcome::kHandled);
}

TEST_F(DispatcherTest, PointerOutsideGuestMemoryStopsWithFault) {
  EXPECT_CALL(handler, mmio_write(_, _, _)).Times(0);
  ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 4, 0xdead0000, 4);
  r.data_is_ptr = 1;
  EXPECT_EQ(dispatcher.dispatch(r), Outcome::kGuestMemFault);
  EXPECT_EQ(dispatcher.stats().guest_mem_faults, 1u);
}

TEST_F(DispatcherTest, CountsConfigMmioAndGuestMemoryRequestsApart) {
  memory.put<uint32_t>(0x10000, 0);
  EXPECT_CALL(handler, config_read(kSbdf0005, 0u, 4u)).WillOnce(Return(0x11111af4u));
  EXPECT_CALL(handler, mmio_read(kBar, 4u)).WillOnce(Return(1u));
  EXPECT_CALL(handler, mmio_write(kBar + 8, 4u, 0u)).Times(2);
  ioreq_t cfg =
      make_ioreq(IOREQ_TYPE_PCI_CONFIG, IOREQ_READ, abi::pci_config_addr(kSbdf0005, 0), 4);
  ioreq_t read = make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 4);
  ioreq_t write = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar + 8, 4, 0);
  ioreq_t movs = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar + 8, 4, 0x10000, 1);
  movs.data_is_ptr = 1;
  for (ioreq_t* r : {&cfg, &read, &write, &movs}) {
    EXPECT_EQ(dispatcher.dispatch(*r), Outcome::kHandled);
  }
  const DispatchStats& s = dispatcher.stats();
  EXPECT_EQ(s.handled, 4u);
  EXPECT_EQ(s.config, 1u);
  EXPECT_EQ(s.mmio, 3u);
  EXPECT_EQ(s.through_memory, 1u) << "only the data_is_ptr request goes through guest memory";
}

TEST_F(DispatcherTest, InvalidateAndTimeoffsetAreAnsweredWithoutDeviceAccess) {
  ioreq_t inv = make_ioreq(IOREQ_TYPE_INVALIDATE, IOREQ_WRITE, 0, 0);
  EXPECT_EQ(dispatcher.dispatch(inv), Outcome::kInvalidated);
  ioreq_t tof = make_ioreq(IOREQ_TYPE_TIMEOFFSET, IOREQ_WRITE, 0, 8, 12345);
  EXPECT_EQ(dispatcher.dispatch(tof), Outcome::kIgnored);
  EXPECT_EQ(dispatcher.stats().ignored, 1u);
  EXPECT_EQ(dispatcher.stats().invalidations, 1u);
}

TEST_F(DispatcherTest, InvalidateUnmapsEveryCachedMappingBeforeItReturns) {
  EXPECT_CALL(handler, mmio_write(kBar, 4u, 0u)).Times(2);
  ioreq_t movs = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 4, 0x10000, 1);
  movs.data_is_ptr = 1;
  dispatcher.dispatch(movs);
  ASSERT_EQ(memory.ram.live_mappings(), 1u);
  ioreq_t inv = make_ioreq(IOREQ_TYPE_INVALIDATE, IOREQ_WRITE, 0, 4, ~uint64_t{0});
  dispatcher.dispatch(inv);
  EXPECT_EQ(memory.ram.live_mappings(), 0u);
  EXPECT_EQ(memory.ram.unmap_calls(), 1u);
  dispatcher.dispatch(movs);  // mapped afresh
  EXPECT_EQ(memory.ram.map_calls(), 2u);
}

// A page-sized rep movs used to cost one map/unmap pair per element.
TEST_F(DispatcherTest, RepThroughMemoryMapsOnceForAllElementsAndOnceOnlyWhenWarm) {
  EXPECT_CALL(handler, mmio_write(_, 1u, _)).Times(2 * kMaxRepCount);
  ioreq_t movs = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 1, 0x10000, kMaxRepCount);
  movs.data_is_ptr = 1;
  EXPECT_EQ(dispatcher.dispatch(movs), Outcome::kHandled);
  EXPECT_EQ(memory.ram.map_calls(), 1u);
  EXPECT_EQ(dispatcher.dispatch(movs), Outcome::kHandled);
  EXPECT_EQ(memory.ram.map_calls(), 1u) << "the second request finds the page in the cache";
  EXPECT_EQ(memory.ram.unmap_calls(), 0u);
}

TEST_F(DispatcherTest, RepReadIntoGuestMemoryMarksThePagesDirty) {
  EXPECT_CALL(handler, mmio_read(_, 4u)).Times(2).WillRepeatedly(Return(7u));
  ioreq_t ins = make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 4, 0x11ffc, 2);
  ins.data_is_ptr = 1;
  EXPECT_EQ(dispatcher.dispatch(ins), Outcome::kHandled);
  EXPECT_EQ(memory.ram.dirty_pfns(), (std::vector<uint64_t>{0x11, 0x12}));
  EXPECT_EQ(memory.get<uint32_t>(0x12000), 7u);
}

TEST_F(DispatcherTest, PointerBelowZeroWithDfIsAFault) {
  EXPECT_CALL(handler, mmio_write(_, _, _)).Times(0);
  ioreq_t r = make_ioreq(IOREQ_TYPE_COPY, IOREQ_WRITE, kBar, 4, 0x4, 4);
  r.data_is_ptr = 1;
  r.df = 1;
  EXPECT_EQ(dispatcher.dispatch(r), Outcome::kGuestMemFault);
}

TEST_F(DispatcherTest, UnknownTypesAndPortIoReadAllOnes) {
  for (uint8_t type : {uint8_t{IOREQ_TYPE_PIO}, uint8_t{3}, uint8_t{9}, uint8_t{0xff}}) {
    ioreq_t r = make_ioreq(type, IOREQ_READ, 0xcfc, 4);
    EXPECT_EQ(dispatcher.dispatch(r), Outcome::kMalformed) << unsigned{type};
    EXPECT_EQ(r.data, ~uint64_t{0});
  }
}

TEST(IoreqAbi, StateSharesByteThirtyWithFlags) {
  ioreq_t r{};
  r.dir = IOREQ_READ;
  r.df = 1;
  r.data_is_ptr = 1;
  abi::store_state(&r, STATE_IORESP_READY);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&r);
  EXPECT_EQ(bytes[30], 0x73) << "state bits 0-3, data_is_ptr 4, dir 5, df 6";
  EXPECT_EQ(abi::load_state(&r), STATE_IORESP_READY);
  EXPECT_EQ(r.dir, IOREQ_READ);
  EXPECT_EQ(r.df, 1);
}

TEST(IoreqAbi, PciConfigAddressHelpersMatchXenEncoding) {
  EXPECT_EQ(abi::pci_config_addr(0x28, 0x3c), 0x28'0000003cULL);
  EXPECT_EQ(abi::pci_config_sbdf(0x28'0000003cULL), 0x28u);
  EXPECT_EQ(abi::pci_config_offset(0x28'0000003cULL), 0x3cu);
}

// Each dispatcher has its own log budget: one flooding guest (or device)
// cannot silence another's first malformed request.
TEST(DispatcherLogBudget, IsPerDispatcher) {
  vgpu::testing::LogCapture log;
  StrictMock<MockIoHandler> handler;
  FakeGuestMemory memory;
  Dispatcher flooded{handler, memory.dma};
  Dispatcher quiet{handler, memory.dma};
  for (int i = 0; i < 100; ++i) {
    ioreq_t bad = make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 3);
    flooded.dispatch(bad);
  }
  const unsigned after_flood = log.count("malformed ioreq");
  EXPECT_LT(after_flood, 100u);
  ioreq_t bad = make_ioreq(IOREQ_TYPE_COPY, IOREQ_READ, kBar, 3);
  quiet.dispatch(bad);
  EXPECT_EQ(log.count("malformed ioreq"), after_flood + 1);
}

}  // namespace
}  // namespace vgpu::ioreq
