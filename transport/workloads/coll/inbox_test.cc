// Inbox over the engine on emu: messages are taken in the sender's order, one each, and
// a late second copy of a message is never taken for the next one.
#include "transport/workloads/coll/inbox.h"

#include <gtest/gtest.h>

#include "transport/engine/testing/world.h"

namespace ferry::coll {
namespace {

using ::ferry::testing::World;
using ::ferry::testing::WorldOptions;

constexpr uint16_t kTag = 300;

bool ready(Inbox& inbox) { return inbox.next().await_ready(); }

// rank0 sends notification (kTag, index) to rank1 and the fabric runs until it is done.
void send(World& w, uint16_t index) {
  int done = 0;
  ASSERT_TRUE(w.engine(0).notify("rank1", Notify{kTag, index}, [&](const TransferResult& r) {
    EXPECT_TRUE(r.ok()) << r.error().message;
    ++done;
  }).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return done == 1; }));
  w.linger(200);
}

TEST(Inbox, ALateCopyOfAMessageIsNotTakenForTheNext) {
  for (EndpointKind kind : {EndpointKind::kRc, EndpointKind::kSrd}) {
    WorldOptions o;
    o.kind = kind;
    World w(o);
    Inbox inbox(w.engine(1), "rank0", "rank 0", kTag, 2);
    inbox.open();
    send(w, 0);
    ASSERT_TRUE(ready(inbox));
    EXPECT_TRUE(inbox.next().await_resume().ok());
    // The sender resends message 0 (its first copy's fate was unknown).
    send(w, 0);
    EXPECT_FALSE(ready(inbox)) << "a second copy of message 0 was taken for message 1";
    send(w, 1);
    ASSERT_TRUE(ready(inbox));
    EXPECT_TRUE(inbox.next().await_resume().ok());
    EXPECT_TRUE(inbox.drained());
    EXPECT_EQ(w.notifications(1, 0), 2u);
    EXPECT_EQ(w.engine(1).stats().peers["rank0"].duplicates, 1u);
    inbox.close();
    // Closed, the tag is free: the next call's first message counts again.
    Inbox again(w.engine(1), "rank0", "rank 0", kTag, 1);
    again.open();
    send(w, 0);
    EXPECT_TRUE(ready(again));
    EXPECT_TRUE(again.next().await_resume().ok());
    again.close();
  }
}

}  // namespace
}  // namespace ferry::coll
