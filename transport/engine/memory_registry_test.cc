#include "transport/engine/memory_registry.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "transport/random.h"
#include "fabrics/cluster_factory.h"

namespace ferry {
namespace {

constexpr uint32_t kAllAccess = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;

class MemoryRegistryTest : public ::testing::Test {
 protected:
  MemoryRegistryTest() : fabric_(make_fabric()) {
    for (size_t rail = 0; rail < 2; ++rail) {
      pds_.push_back(fabric_->node(0).device(rail).create_protection_domain().value());
    }
    registry_ = std::make_unique<MemoryRegistry>(std::vector<ProtectionDomain*>{pds_[0].get(), pds_[1].get()});
  }
  // One node of two NICs.
  static std::unique_ptr<Cluster> make_fabric() {
    fabrics::ClusterOptions o;
    o.nodes = 1;
    o.nic_gbps = {100, 100};
    return std::move(fabrics::make_cluster(o).value());
  }

  std::unique_ptr<Cluster> fabric_;
  std::vector<std::unique_ptr<ProtectionDomain>> pds_;
  std::unique_ptr<MemoryRegistry> registry_;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(1 << 20);
};

TEST_F(MemoryRegistryTest, RegistersOnEveryRailOnce) {
  auto r = registry_->register_memory(buffer_.data(), buffer_.size(), kAllAccess);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const RegionDescriptor d = (*r)->descriptor();
  EXPECT_EQ(d.rkeys.size(), 2u);
  EXPECT_EQ(registry_->misses(), 1u);

  // Any range inside is a lookup, not a registration.
  auto inner = registry_->register_memory(buffer_.data() + 4096, 8192, kAccessRemoteWrite | kAccessLocalWrite);
  ASSERT_TRUE(inner.ok());
  EXPECT_EQ(*inner, *r);
  EXPECT_EQ(registry_->hits(), 1u);
  EXPECT_EQ(registry_->size(), 1u);
}

// A dead NIC leaves its rail out of new registrations: absent there, present on the others,
// and the descriptor a peer gets says so.
TEST_F(MemoryRegistryTest, SkipsARailWhoseNicIsDead) {
  ASSERT_TRUE(fabric_->inject(FabricFault{FabricFaultKind::kNicDeath, 0, 1}).ok());
  auto r = registry_->register_memory(buffer_.data(), buffer_.size(), kAllAccess);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE((*r)->has_rail(0));
  EXPECT_FALSE((*r)->has_rail(1));
  EXPECT_EQ((*r)->present_rails(), 1u);
  auto parsed = RegionDescriptor::parse((*r)->descriptor().serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_TRUE(parsed->has_rail(0));
  EXPECT_FALSE(parsed->has_rail(1));
  EXPECT_EQ(parsed->rkeys[0], (*r)->rkey(0));
}

TEST_F(MemoryRegistryTest, FailsNamingEveryRailWhenNoneRegisters) {
  ASSERT_TRUE(fabric_->inject(FabricFault{FabricFaultKind::kNicDeath, 0, 0}).ok());
  ASSERT_TRUE(fabric_->inject(FabricFault{FabricFaultKind::kNicDeath, 0, 1}).ok());
  auto r = registry_->register_memory(buffer_.data(), buffer_.size(), kAllAccess);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  const std::string& message = r.error().message;
  EXPECT_NE(message.find("no rail can register the buffer"), std::string::npos) << message;
  EXPECT_NE(message.find("rail 0: emu:n0/nic0 is dead"), std::string::npos) << message;
  EXPECT_NE(message.find("rail 1: emu:n0/nic1 is dead"), std::string::npos) << message;
  EXPECT_EQ(registry_->size(), 0u);
}

TEST_F(MemoryRegistryTest, MissesWhenRangeOrAccessIsNotCovered) {
  ASSERT_TRUE(registry_->register_memory(buffer_.data(), 4096, kAccessLocalWrite).ok());
  // Wider range and more rights: both need a registration of their own.
  ASSERT_TRUE(registry_->register_memory(buffer_.data(), 8192, kAccessLocalWrite).ok());
  ASSERT_TRUE(registry_->register_memory(buffer_.data() + 100, 10, kAllAccess).ok());
  EXPECT_EQ(registry_->misses(), 3u);
  EXPECT_EQ(registry_->hits(), 0u);
  EXPECT_EQ(registry_->find(reinterpret_cast<uint64_t>(buffer_.data()) + 8000, 192)->length(), 8192u);
  EXPECT_EQ(registry_->find(reinterpret_cast<uint64_t>(buffer_.data()) + 8000, 193), nullptr);
}

TEST_F(MemoryRegistryTest, DeregistrationIsRefusedWhileTransfersAreInFlight) {
  auto r = registry_->register_memory(buffer_.data(), buffer_.size(), kAllAccess);
  ASSERT_TRUE(r.ok());
  Registration* registration = registry_->find(reinterpret_cast<uint64_t>(buffer_.data()), 1);
  registration->in_flight = 2;
  auto refused = registry_->deregister(buffer_.data());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("2 transfer(s)"), std::string::npos);
  registration->in_flight = 0;
  EXPECT_TRUE(registry_->deregister(buffer_.data()).ok());
  EXPECT_EQ(registry_->size(), 0u);
  EXPECT_FALSE(registry_->deregister(buffer_.data()).ok());
}

TEST(RegionDescriptorTest, RoundTrips) {
  RegionDescriptor d{0x7f0000001000, 1 << 20, {0x101, 0x202, 0x303}};
  auto parsed = RegionDescriptor::parse(d.serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(parsed->addr, d.addr);
  EXPECT_EQ(parsed->length, d.length);
  EXPECT_EQ(parsed->rkeys, d.rkeys);
  EXPECT_TRUE(parsed->contains(d.addr + 10, 100));
  EXPECT_FALSE(parsed->contains(d.addr + d.length - 1, 2));
  EXPECT_EQ(parsed->kind, MemoryKind::kHost);
  EXPECT_EQ(parsed->device, -1);
}

TEST(RegionDescriptorTest, CarriesTheMemoryKindAndTheGpu) {
  RegionDescriptor d{0x7f0000001000, 1 << 20, {7}, MemoryKind::kDevice, 3};
  auto parsed = RegionDescriptor::parse(d.serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(parsed->kind, MemoryKind::kDevice);
  EXPECT_EQ(parsed->device, 3);
  // A kind the format does not know, and a GPU ordinal that contradicts the kind.
  std::vector<uint8_t> bytes = d.serialize();
  bytes[24] = 2;
  EXPECT_FALSE(RegionDescriptor::parse(bytes).ok());
  EXPECT_FALSE(RegionDescriptor::parse(RegionDescriptor{0x1000, 4096, {1}, MemoryKind::kHost, 0}.serialize()).ok());
  EXPECT_FALSE(RegionDescriptor::parse(RegionDescriptor{0x1000, 4096, {1}, MemoryKind::kDevice, -1}.serialize()).ok());
}

TEST(RegionDescriptorTest, RoundTripsAbsentRails) {
  RegionDescriptor d{0x1000, 4096, {0, 0x202, 0}};
  d.absent_rails = 0b101;
  auto parsed = RegionDescriptor::parse(d.serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  EXPECT_EQ(parsed->absent_rails, 0b101u);
  EXPECT_EQ(parsed->present_rails(), 0b010u);
  EXPECT_FALSE(parsed->has_rail(0));
  EXPECT_TRUE(parsed->has_rail(1));
  EXPECT_FALSE(parsed->has_rail(3));
}

TEST(RegionDescriptorTest, RejectsAbsentRailsThatDoNotFit) {
  RegionDescriptor beyond{0x1000, 4096, {1, 2}};
  beyond.absent_rails = 0b100;  // a rail it does not have
  EXPECT_FALSE(RegionDescriptor::parse(beyond.serialize()).ok());
  RegionDescriptor none_left{0x1000, 4096, {0, 0}};
  none_left.absent_rails = 0b11;
  EXPECT_FALSE(RegionDescriptor::parse(none_left.serialize()).ok());
  RegionDescriptor keyed{0x1000, 4096, {1, 2}};
  keyed.absent_rails = 0b01;  // yet a key for it
  auto parsed = RegionDescriptor::parse(keyed.serialize());
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("rail 0"), std::string::npos) << parsed.error().message;
}

TEST(RegionDescriptorTest, RejectsMalformedBytes) {
  const std::vector<uint8_t> good = RegionDescriptor{0x1000, 4096, {1, 2}}.serialize();
  // Every truncation and every extension is refused.
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(RegionDescriptor::parse(std::span(good).first(n)).ok()) << n;
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_FALSE(RegionDescriptor::parse(longer).ok());
  // Random bytes never parse and never crash.
  ferry::Rng rng(42);
  for (int i = 0; i < 10000; ++i) {
    std::vector<uint8_t> junk(rng.below(64));
    for (auto& b : junk) b = static_cast<uint8_t>(rng.next());
    EXPECT_FALSE(RegionDescriptor::parse(junk).ok());
  }
  // A flipped bit in the header is caught.
  std::vector<uint8_t> bad_magic = good;
  bad_magic[0] ^= 1;
  EXPECT_FALSE(RegionDescriptor::parse(bad_magic).ok());
}

}  // namespace
}  // namespace ferry
