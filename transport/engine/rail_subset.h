// RailSubset: a Provider that shows an engine only some of a node's devices, so that each
// GPU's engine uses its own NIC(s), as GPUDirect RDMA does on rail-aligned servers.
#pragma once

#include <cstdint>
#include <vector>

#include "transport/provider.h"

namespace ferry {

// The NICs GPU `gpu` of a node with `gpus` GPUs and `nics` NICs uses: NIC n where
// n % gpus == gpu when there are at least as many NICs as GPUs, else NIC gpu % nics (GPUs
// then share NICs).
inline std::vector<uint32_t> rails_of_gpu(uint32_t gpu, uint32_t gpus, uint32_t nics) {
  std::vector<uint32_t> out;
  if (nics >= gpus) {
    for (uint32_t n = gpu; n < nics; n += gpus) out.push_back(n);
  } else {
    out.push_back(gpu % nics);
  }
  return out;
}

class RailSubset final : public Provider {
 public:
  // `devices`: indices into inner's devices, in the order this view shows them.
  RailSubset(Provider& inner, std::vector<uint32_t> devices) : inner_(inner), devices_(std::move(devices)) {}

  const char* name() const override { return inner_.name(); }
  size_t device_count() const override { return devices_.size(); }
  Device& device(size_t index) override { return inner_.device(devices_.at(index)); }
  const Clock& clock() const override { return inner_.clock(); }
  bool progress() override { return inner_.progress(); }

 private:
  Provider& inner_;
  std::vector<uint32_t> devices_;
};

}  // namespace ferry
