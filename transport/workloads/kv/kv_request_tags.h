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
// The kKv tag space is cut into slots of layers + 1 tags (101 slots for an 80-layer
// model), and both sides must use the same slot for a request. Whoever starts requests
// on both sides allocates one with KvTagSlots and puts it in KvRequest::tag_slot; it is
// released once the request ended on every rank, so live requests never share one,
// whatever their ids. Without a tag_slot, request `id` takes slot id % slots, and live
// requests whose ids are equal modulo the slots are refused (begin() names the clash).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "transport/result.h"
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
  static KvRequestTags for_slot(uint32_t slot, uint32_t layers) {
    return KvRequestTags{static_cast<uint16_t>(static_cast<uint16_t>(TagSpace::kKv) + slot * (layers + 1)),
                         static_cast<uint16_t>(layers)};
  }
  static KvRequestTags for_request(uint64_t id, uint32_t layers) {
    return for_slot(static_cast<uint32_t>(id % slots(layers)), layers);
  }
};

// The tag slots of live requests, kept by whoever starts requests on both sides.
class KvTagSlots {
 public:
  explicit KvTagSlots(uint32_t layers) : layers_(layers), used_(KvRequestTags::slots(layers), false) {}

  // The lowest free slot, or kResourceExhausted when every one is in use.
  Result<uint32_t> allocate() {
    for (uint32_t slot = 0; slot < used_.size(); ++slot) {
      if (!used_[slot]) {
        used_[slot] = true;
        return slot;
      }
    }
    return make_error(ErrorCode::kResourceExhausted,
                      "all " + std::to_string(used_.size()) + " KV tag slots of a " + std::to_string(layers_) +
                          "-layer model are in use by live requests");
  }
  // Once the request ended on every rank (its notifications have all landed).
  void release(uint32_t slot) {
    if (slot < used_.size()) used_[slot] = false;
  }

 private:
  uint32_t layers_;
  std::vector<bool> used_;
};

}  // namespace ferry
