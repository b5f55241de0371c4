// verbs: the provider interface on rdma-core's libibverbs.
//
// RC endpoints on ConnectX, RoCE and Soft-RoCE (rxe); SRD endpoints on AWS EFA through
// efadv. A thin mapping: every Device is one ibv_context port, registration is
// ibv_reg_mr, endpoints are queue pairs connected with an address blob (QP number, PSN,
// LID, GID, path MTU) exchanged out of band, batches are posted as linked work-request
// lists, and completions are ibv_wc mapped to ferry's statuses. The hardware moves on its
// own: progress() has nothing to do.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "transport/provider.h"

namespace ferry::verbs {

struct VerbsOptions {
  // Only devices whose name contains this (empty: every device).
  std::string device_filter;
  uint8_t port = 1;
  // GID index for RoCE; -1 chooses a RoCE v2 GID with an IPv4 address if there is one,
  // else any RoCE v2 GID, else index 0.
  int gid_index = -1;
  // Payloads up to this many bytes are posted inline (copied into the work request),
  // and endpoints ask for this much inline room; an EFA device gets at most its own
  // limit (efadv inline_buf_size, commonly 32), above which it refuses the queue pair.
  uint32_t max_inline = 64;
};

// Opens every matching RDMA device as one Device. Fails with kUnavailable, saying what
// is needed, when there is none (no NIC, no rxe link, no permission).
Result<std::unique_ptr<Provider>> open_provider(const VerbsOptions& options = {});

// Exposed for tests: the mapping of verbs work-completion statuses.
Status status_from_ibv(int ibv_wc_status);

}  // namespace ferry::verbs
