// The simulation's own refusals: configurations out of bounds, and a second
// simulation while one is alive. Every provider's error completions are the conformance
// suite's (transport/conformance/).
#include "sim/test_util.h"

namespace ferry::sim::test {
namespace {

TEST(Configuration, OutOfBoundsIsRefused) {
  SimulationConfig c;
  c.mtu = 100;
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = SimulationConfig{};
  c.access_link.loss = 1;
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = SimulationConfig{};
  c.nics.clear();
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
}

TEST(Configuration, OnlyOneSimulationAtATime) {
  Simulation first(SimulationConfig{});
  EXPECT_THROW(Simulation{SimulationConfig{}}, std::logic_error);
}

}  // namespace
}  // namespace ferry::sim::test
