#include "scenarios/workload_spec.h"

#include <algorithm>

namespace ferry::scenarios {

uint64_t ContextLengths::largest() const {
  if (kind == Kind::kList) return list.empty() ? 0 : *std::max_element(list.begin(), list.end());
  return max;
}

}  // namespace ferry::scenarios
