#include "python/ferry/_native/process_node.h"

#include "transport/directory/base64.h"
#include "transport/engine/engine_cluster.h"
#include "transport/tcp/tcp_provider.h"
#include "transport/verbs/verbs_provider.h"

namespace ferry::python {
namespace {

// Application keys live apart from the exchange's addresses.
std::string data_key(const std::string& key) { return "data/" + key; }

Error step_failed(const std::string& step, const Error& e) { return make_error(e.code, step + ": " + e.message); }

Result<std::unique_ptr<Provider>> open_provider(const ProcessNodeOptions& o) {
  if (o.provider == "tcp") {
    tcp::TcpOptions t;
    t.host = o.host;
    return tcp::open_provider(t);
  }
  if (o.provider == "verbs") {
    verbs::VerbsOptions v;
    v.device_filter = o.device;
    return verbs::open_provider(v);
  }
  return make_error(ErrorCode::kInvalidArgument, "provider '" + o.provider +
                                                     "' cannot span processes: across processes use 'tcp' or 'verbs'");
}

}  // namespace

Result<std::unique_ptr<ProcessNode>> ProcessNode::open(const ProcessNodeOptions& options, const EngineConfig& config,
                                                       uint64_t lookup_timeout_ms) {
  if (options.nodes == 0) return make_error(ErrorCode::kInvalidArgument, "nodes must be at least 1");
  if (options.node >= options.nodes) {
    return make_error(ErrorCode::kOutOfRange, "node " + std::to_string(options.node) + " of a cluster of " +
                                                  std::to_string(options.nodes) + " nodes (0 .. " +
                                                  std::to_string(options.nodes - 1) + ")");
  }
  std::unique_ptr<ProcessNode> n(new ProcessNode(options));
  directory::DirectoryOptions d;
  d.cluster = options.cluster;
  auto dir = directory::open_directory(options.directory, d);
  if (!dir.ok()) return dir.error();
  n->directory_ = std::move(dir).value();
  auto provider = open_provider(options);
  if (!provider.ok()) return step_failed(options.provider + " provider", provider.error());
  n->provider_ = std::move(provider).value();
  const std::string name = rank_name(options.node);
  // A second process claiming this rank fails here: the directory refuses its address.
  auto exchange = directory::DirectoryExchange::open(*n->directory_, name, options.host, lookup_timeout_ms);
  if (!exchange.ok()) return step_failed(name + "'s exchange", exchange.error());
  n->exchange_ = std::move(exchange).value();
  n->engine_ = std::make_unique<Engine>(name, *n->provider_, *n->exchange_, config);
  if (auto opened = n->engine_->open(); !opened.ok()) return step_failed(name, opened.error());
  // Peers are known from the start, so that their hellos and notifications are taken;
  // nothing is sent to one before the first transfer to it.
  for (uint32_t r = 0; r < options.nodes; ++r) {
    if (r != options.node) (void)n->engine_->add_peer(rank_name(r));
  }
  return n;
}

ProcessNode::~ProcessNode() {
  engine_.reset();
  exchange_.reset();
  if (directory_) directory_->close();
}

bool ProcessNode::progress() {
  bool did = engine_->progress();
  did |= provider_->progress();  // real-time providers run what is due
  return did;
}

VoidResult ProcessNode::publish(const std::string& key, const std::string& bytes) {
  return directory_->publish(data_key(key), directory::base64_encode(bytes));
}

Result<std::optional<std::string>> ProcessNode::lookup(const std::string& key) {
  auto text = directory_->lookup(data_key(key));
  if (!text.ok()) return text.error();
  if (!*text) return std::optional<std::string>();
  auto bytes = directory::base64_decode(**text);
  if (!bytes) {
    return make_error(ErrorCode::kInvalidArgument, describe() + ": '" + key + "' holds no value of publish()");
  }
  return std::optional<std::string>(std::move(*bytes));
}

Result<bool> ProcessNode::peer_up(size_t peer) {
  auto found = directory_->lookup(directory::DirectoryExchange::key_of(rank_name(peer)));
  if (!found.ok()) return found.error();
  return found->has_value();
}

}  // namespace ferry::python
