// KvRequestTags: the notification tags of one KV-migration request.
//
// The engine counts notifications per (peer, tag), and an expectation forgets its tag
// when it ends, so one tag serves exactly one wait per peer. A decode rank waits for
// each layer on its own, so a request uses one tag per layer, plus one control tag:
//
//   layer(l)   prefill -> decode: this prefill rank's share of layer l is in place
//              (index = l)
//   control()  prefill -> decode: "I stopped early, and none of my writes of this
//              request can land any more"; decode -> prefill: "stop sending" (index 0)
//
// Both sides derive the tags from the request id alone: the kKv tag space is cut into
// slots of layers + 1 tags and request `id` takes slot id % slots. Requests live at the
// same time must therefore have distinct slots (begin() refuses a clash), and a slot
// comes back only `slots` request ids later, long after any notification of its previous
// use has landed.
#pragma once

#include <cstdint>

#include "transport/workloads/group.h"

namespace ferry {

struct KvRequestTags {
  uint16_t first = 0;
  uint16_t layers = 0;

  uint16_t layer(uint32_t l) const { return static_cast<uint16_t>(first + l); }
  uint16_t control() const { return static_cast<uint16_t>(first + layers); }
  uint32_t slot() const { return (first - static_cast<uint16_t>(TagSpace::kKv)) / (layers + 1u); }

  // Request slots in the kKv space for a model of `layers` layers.
  static uint32_t slots(uint32_t layers) { return kTagsPerSpace / (layers + 1); }
  static KvRequestTags for_request(uint64_t id, uint32_t layers) {
    const uint32_t slot = static_cast<uint32_t>(id % slots(layers));
    return KvRequestTags{static_cast<uint16_t>(static_cast<uint16_t>(TagSpace::kKv) + slot * (layers + 1)),
                         static_cast<uint16_t>(layers)};
  }
};

}  // namespace ferry
