// The descriptor ring with host producers: several threads at once (run under TSan, tag
// "threads"), back-pressure on a full ring, waits and quiet against the proxy's words.
#include "transport/proxy/ring.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "transport/proxy/channel.h"

namespace ferry::proxy {
namespace {

std::unique_ptr<Channel> channel(uint32_t capacity, uint64_t timeout_ns = 5'000'000'000) {
  ChannelOptions o;
  o.capacity = capacity;
  o.signals = 4;
  o.timeout_ns = timeout_ns;
  auto made = Channel::create(o);
  EXPECT_TRUE(made.ok()) << made.error().to_string();
  return std::move(made).value();
}

// What the proxy does with the words producers read (it is their only writer).
void set_completed(const Context& c, uint64_t n) { store_release(&c.words->completed, n); }

TEST(Ring, SeveralProducersEachDescriptorOnceAndInEachProducersOrder) {
  constexpr uint32_t kProducers = 4;
  constexpr uint64_t kEach = 5000;
  auto ch = channel(64);
  const Context c = ch->context();
  std::vector<std::thread> producers;
  for (uint32_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([c, p] {
      for (uint64_t i = 0; i < kEach; ++i) {
        ASSERT_EQ(put(c, p, i, i * 3, i + 1), Status::kOk);
      }
    });
  }
  std::vector<uint64_t> next(kProducers, 0);
  Descriptor d;
  for (uint64_t t = 0; t < kProducers * kEach;) {
    if (!take(c, t, d)) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(d.op, Op::kPut);
    ASSERT_LT(d.peer, kProducers);
    ASSERT_EQ(d.local_offset, next[d.peer]) << "producer " << d.peer << " at ticket " << t;
    ASSERT_EQ(d.remote_offset, d.local_offset * 3);
    ASSERT_EQ(d.bytes, d.local_offset + 1);
    ++next[d.peer];
    ++t;
  }
  for (auto& t : producers) t.join();
  for (uint32_t p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], kEach);
  EXPECT_FALSE(published(c, kProducers * kEach));
}

TEST(Ring, WrapsManyTimesKeepingEveryField) {
  auto ch = channel(2);
  const Context c = ch->context();
  Descriptor d;
  for (uint64_t t = 0; t < 1000; ++t) {
    ASSERT_EQ(put_signal(c, 7, t, t + 1, t + 2, 3, t + 4), Status::kOk);
    ASSERT_TRUE(take(c, t, d));
    EXPECT_EQ(d.op, Op::kPutSignal);
    EXPECT_EQ(d.peer, 7u);
    EXPECT_EQ(d.local_offset, t);
    EXPECT_EQ(d.remote_offset, t + 1);
    EXPECT_EQ(d.bytes, t + 2);
    EXPECT_EQ(d.signal, 3u);
    EXPECT_EQ(d.value, t + 4);
    EXPECT_FALSE(take(c, t + 1, d));
  }
}

TEST(Ring, FullRingTimesOutWithoutTakingATicketThenGoesOn) {
  auto ch = channel(4, 20'000'000);
  const Context c = ch->context();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(signal(c, 0, 0), Status::kOk);
  EXPECT_EQ(signal(c, 0, 0), Status::kTimeout);
  EXPECT_EQ(ticket_load(c.ticket), 4u);
  Descriptor d;
  ASSERT_TRUE(take(c, 0, d));
  EXPECT_EQ(signal(c, 0, 1), Status::kOk);
  EXPECT_EQ(ticket_load(c.ticket), 5u);
  for (uint64_t t = 1; t < 5; ++t) ASSERT_TRUE(take(c, t, d));
  EXPECT_EQ(d.signal, 1u);
}

TEST(Ring, AFullRingWaitsForTheConsumer) {
  auto ch = channel(2);
  const Context c = ch->context();
  std::thread consumer([c] {
    Descriptor d;
    for (uint64_t t = 0; t < 200;) {
      if (take(c, t, d)) {
        ++t;
      } else {
        std::this_thread::yield();
      }
    }
  });
  for (int i = 0; i < 200; ++i) ASSERT_EQ(put(c, 0, 0, 0, 1), Status::kOk);
  consumer.join();
}

TEST(Ring, WaitSeesCountersAndErrorsAndTimesOut) {
  auto ch = channel(4, 20'000'000);
  const Context c = ch->context();
  EXPECT_EQ(wait(c, 1, 1), Status::kTimeout);
  EXPECT_EQ(wait(c, 4, 1), Status::kBadDescriptor);  // no such signal
  std::thread proxy([c] { store_release(&c.counters[1], 3); });
  proxy.join();
  EXPECT_EQ(wait(c, 1, 3), Status::kOk);
  EXPECT_EQ(ch->counter(1), 3u);
  std::atomic_ref<uint32_t>(c.words->status).store(uint32_t(Status::kUnknownPeer), std::memory_order_release);
  EXPECT_EQ(wait(c, 1, 4), Status::kUnknownPeer);  // an error ends the wait at once
  EXPECT_STREQ(to_string(ch->status()), "unknown peer");
}

TEST(Ring, QuietWaitsForEveryDescriptorIssuedBefore) {
  auto ch = channel(8, 20'000'000);
  const Context c = ch->context();
  EXPECT_EQ(quiet(c), Status::kOk);  // nothing issued
  for (int i = 0; i < 3; ++i) ASSERT_EQ(put(c, 0, 0, 0, 1), Status::kOk);
  set_completed(c, 2);
  EXPECT_EQ(quiet(c), Status::kTimeout);
  std::thread proxy([c] { set_completed(c, 3); });
  EXPECT_EQ(quiet(c), Status::kOk);
  proxy.join();
}

TEST(Channel, RefusesShapesOutOfRangeByName) {
  ChannelOptions o;
  o.capacity = 0;
  auto made = Channel::create(o);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("capacity"), std::string::npos);
  o.capacity = 8;
  o.signals = 0;
  made = Channel::create(o);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("signals"), std::string::npos);
}

}  // namespace
}  // namespace ferry::proxy
