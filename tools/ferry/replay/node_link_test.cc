// The hello between node processes: the same build, scenario and node count meet; any
// difference is refused naming both sides.
#include "tools/ferry/replay/node_link.h"

#include <gtest/gtest.h>

#include "transport/wire_fields.h"

namespace ferry::replay {
namespace {

NodeLinkOptions node(uint32_t n, uint64_t fingerprint = 0xabc, uint32_t nodes = 2) {
  NodeLinkOptions o;
  o.node = n;
  o.nodes = nodes;
  o.fingerprint = fingerprint;
  o.label = "default.yaml";
  return o;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(NodeLinkHello, TheSameReplayMeets) { EXPECT_TRUE(check_hello(node(0), 1, hello_message(node(1))).ok()); }

TEST(NodeLinkHello, AnotherScenarioOrNodeCountIsRefusedNamingBoth) {
  for (const NodeLinkOptions& theirs : {node(1, 0xdef), node(1, 0xabc, 3)}) {
    const VoidResult r = check_hello(node(0), 1, hello_message(theirs));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_TRUE(contains(r.error().message, "node 1 runs another replay")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "where node 0 runs")) << r.error().message;
  }
}

TEST(NodeLinkHello, AnotherVersionIsRefusedSayingSo) {
  std::vector<uint8_t> theirs = hello_message(node(1));
  WireWriter future;
  future.u64(99);
  std::copy(future.data().begin(), future.data().end(), theirs.begin());  // the version comes first
  const VoidResult r = check_hello(node(0), 1, theirs);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().message, "node 1 speaks node-link version 99")) << r.error().message;
  EXPECT_TRUE(contains(r.error().message, "same ferry build")) << r.error().message;
}

TEST(NodeLinkHello, ATruncatedHelloIsRefused) {
  const std::vector<uint8_t> whole = hello_message(node(1));
  for (size_t n = 0; n < whole.size(); ++n) {
    const VoidResult r = check_hello(node(0), 1, std::vector<uint8_t>(whole.begin(), whole.begin() + n));
    EXPECT_FALSE(r.ok()) << n << " bytes";
  }
}

}  // namespace
}  // namespace ferry::replay
