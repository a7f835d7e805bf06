// The supervisor/worker channel: the wire form, and what the supervisor
// accepts from a worker it must assume compromised.
#include "vgpu/app/worker_channel.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

namespace vgpu::app {
namespace {

const KeyPolicy kPolicy({"queue", "mem-limit"});

TEST(WorkerChannel, MessagesCrossIntact) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  const Message sent{MessageType::kSetKey, 0, "bar0", "0xf0000000"};
  ASSERT_TRUE(pair->first.send(sent));
  auto got = pair->second.receive();
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, sent);
  const Message failed{MessageType::kFailed, 2, {}, std::string(Message::kMaxValue, 'x')};
  ASSERT_TRUE(pair->second.send(failed));
  got = pair->first.receive();
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(**got, failed);
}

TEST(WorkerChannel, ClosedPeerReadsAsNothing) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  pair->first.close();
  auto got = pair->second.receive();
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
}

TEST(WorkerChannel, OverlongFieldsAreNotSent) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  EXPECT_FALSE(pair->first.send({MessageType::kSetKey, 0, std::string(24, 'k'), "v"}));
  EXPECT_FALSE(pair->first.send(
      {MessageType::kSetKey, 0, "bar0", std::string(Message::kMaxValue + 1, 'v')}));
}

TEST(WorkerChannel, DatagramsOfTheWrongShapeAreProtocolErrors) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair);
  for (size_t size : {size_t{1}, kWireSize - 1, kWireSize + 1, kWireSize + 100}) {
    std::string junk(size, '\x02');
    ASSERT_EQ(::send(pair->first.fd(), junk.data(), junk.size(), 0),
              static_cast<ssize_t>(junk.size()));
    auto got = pair->second.receive();
    ASSERT_FALSE(got) << size;
    EXPECT_EQ(got.error().code, EPROTO) << size;
  }
  unsigned char wire[kWireSize] = {};
  wire[0] = static_cast<unsigned char>(MessageType::kSetKey);
  wire[2] = Message::kMaxKey + 1;  // a key length past its field
  EXPECT_EQ(decode(wire, sizeof wire).error().code, EPROTO);
  wire[2] = 1;
  wire[3] = Message::kMaxValue + 1;
  EXPECT_EQ(decode(wire, sizeof wire).error().code, EPROTO);
}

TEST(KeyPolicy, AdmitsTheKeysTheDevicePublishes) {
  EXPECT_EQ(kPolicy.check("bar0", "0xf0000000"), "");
  EXPECT_EQ(kPolicy.check("bar0", ""), "");
  EXPECT_EQ(kPolicy.check("bar5", "0xfffffffffffff000"), "");
  EXPECT_EQ(kPolicy.check("queue", "ready"), "");
  EXPECT_EQ(kPolicy.check("mem-limit", "268435456"), "");
}

TEST(KeyPolicy, RefusesEverythingElse) {
  // Keys the supervisor, launcher or guest own, and paths out of the backend.
  for (const char* key : {"state", "pid", "ioreq-server", "frontend", "online", "hotplug-status",
                          "bar6", "bar0-size", "vendor-id", "../0/state", "queue/x", "", "bar00"})
    EXPECT_NE(kPolicy.check(key, "1"), "") << key;
  for (const char* value : {"0x", "f0000000", "0xg", "0x10000000000000000", "ready "})
    EXPECT_NE(kPolicy.check("bar0", value), "") << value;
  for (const char* value : {"a/b", "x\n", "a b", "\x7f"})
    EXPECT_NE(kPolicy.check("queue", value), "") << value;
  EXPECT_NE(kPolicy.check("queue", std::string(KeyPolicy::kMaxValue + 1, 'a')), "");
}

TEST(KeyPolicy, AdmitsOnlyWorkerMessagesOfTheirShape) {
  EXPECT_EQ(kPolicy.check_from_worker({MessageType::kServerEnabled, 0, {}, "3"}), "");
  EXPECT_NE(kPolicy.check_from_worker({MessageType::kServerEnabled, 0, {}, "65536"}), "");
  EXPECT_NE(kPolicy.check_from_worker({MessageType::kServerEnabled, 0, {}, "-1"}), "");
  EXPECT_EQ(kPolicy.check_from_worker({MessageType::kReady, 0, {}, {}}), "");
  EXPECT_NE(kPolicy.check_from_worker({MessageType::kReady, 0, "state", "4"}), "");
  EXPECT_EQ(kPolicy.check_from_worker({MessageType::kFailed, 2, {}, "domain 7 is gone"}), "");
  EXPECT_NE(kPolicy.check_from_worker({MessageType::kFailed, 0, {}, "exit 0 is not a failure"}),
            "");
  EXPECT_NE(kPolicy.check_from_worker({MessageType::kFailed, 1, {}, "two\nlines"}), "");
  // The supervisor's own messages, and unknown types.
  for (MessageType t : {MessageType::kGo, MessageType::kStop, MessageType::kDomainGone,
                        MessageType::kDumpTrace, static_cast<MessageType>(99)})
    EXPECT_NE(kPolicy.check_from_worker({t, 0, {}, {}}), "") << static_cast<unsigned>(t);
}

}  // namespace
}  // namespace vgpu::app
