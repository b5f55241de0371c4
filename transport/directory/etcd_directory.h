// The Directory on etcd (v3 API through its JSON gateway; Debian's etcd-server 3.4).
//
// Keys live under /ferry/<cluster>/<key>. At open the process gets one lease of
// options.ttl_ms rounded up to whole seconds; every entry it publishes hangs on that
// lease. A thread of the directory's own renews it every third of its TTL, so a live
// process keeps its entries however busy it is; one that crashes or destroys the
// directory without close() loses them when the lease expires; close() revokes the
// lease, which removes them at once. keep_alive() reports what the last renewal met.
//
// etcd raises a TTL below its minimum to that minimum: with its default heartbeat
// (100 ms) and election timeout (1000 ms) the minimum is 2 s (1.5 s rounded up), so a
// ttl_ms below 2000 gets 2 s. The TTL etcd granted is the one used for renewals.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "transport/directory/directory.h"

namespace ferry::directory {

// endpoints: "host:port" each, tried in order while they do not accept connections.
// Fails when none answers within options.request_timeout_ms, naming the URL.
Result<std::unique_ptr<Directory>> open_etcd_directory(const std::vector<std::string>& endpoints,
                                                       const DirectoryOptions& options);

}  // namespace ferry::directory
