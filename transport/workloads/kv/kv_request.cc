#include "transport/workloads/kv/kv_request.h"

#include <string>

namespace ferry {

VoidResult validate_request(const KvRequest& request, const PagedKvLayout& prefill,
                            const PagedKvLayout& decode, KvTagSlot slot) {
  const std::string which = "request " + std::to_string(request.id) + ": ";
  if (KvRequestTags::slots(prefill.layers) == 0) {
    return make_error(ErrorCode::kOutOfRange, which + std::to_string(prefill.layers) +
                                                  " layers need more tags than the KV tag space holds");
  }
  if (slot && *slot >= KvRequestTags::slots(prefill.layers)) {
    return make_error(ErrorCode::kOutOfRange, which + "tag slot " + std::to_string(*slot) +
                                                  " is outside the " +
                                                  std::to_string(KvRequestTags::slots(prefill.layers)) +
                                                  " slots of a " + std::to_string(prefill.layers) + "-layer model");
  }
  if (auto valid = validate_block_table(prefill, request.prefill_blocks); !valid.ok()) {
    return make_error(valid.error().code, which + "prefill block table: " + valid.error().message);
  }
  if (auto valid = validate_block_table(decode, request.decode_blocks); !valid.ok()) {
    return make_error(valid.error().code, which + "decode block table: " + valid.error().message);
  }
  if (request.prefill_blocks.size() != request.decode_blocks.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      which + std::to_string(request.prefill_blocks.size()) + " prefill blocks but " +
                          std::to_string(request.decode_blocks.size()) + " decode blocks");
  }
  return {};
}

}  // namespace ferry
