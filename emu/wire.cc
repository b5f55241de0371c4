#include "emu/wire.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ferry::emu {
namespace {

double fair_share(const WireFlow& flow) {
  double gbps = flow.tx->gbps / static_cast<double>(flow.tx->flows.size());
  if (flow.rx != nullptr) gbps = std::min(gbps, flow.rx->gbps / static_cast<double>(flow.rx->flows.size()));
  return gbps;
}

double bits_left_at(const WireFlow& flow, uint64_t now_ns) {
  const double sent = flow.gbps * static_cast<double>(now_ns - flow.since_ns);
  return std::max(0.0, flow.bits_left - sent);
}

void leave(WireFlow& flow, std::vector<WirePort*>& touched) {
  for (WirePort* port : {flow.tx, flow.rx}) {
    if (port == nullptr) continue;
    port->flows.erase(std::find(port->flows.begin(), port->flows.end(), &flow));
    touched.push_back(port);
  }
  flow.tx = flow.rx = nullptr;
}

// Every flow on the touched ports gets its new share; those whose rate moved are told.
void share_again(std::vector<WirePort*>& touched, uint64_t now_ns, const WireChanged& changed) {
  for (size_t i = 0; i < touched.size(); ++i) {
    if (std::find(touched.begin(), touched.begin() + i, touched[i]) != touched.begin() + i) continue;
    for (WireFlow* flow : touched[i]->flows) {
      const double gbps = fair_share(*flow);
      if (gbps == flow->gbps) continue;
      flow->bits_left = bits_left_at(*flow, now_ns);
      flow->since_ns = now_ns;
      flow->gbps = gbps;
      ++flow->generation;
      changed(*flow);
    }
  }
}

}  // namespace

uint64_t WireFlow::finish_ns() const {
  return since_ns + static_cast<uint64_t>(std::ceil(bits_left / gbps));
}

uint64_t WireFlow::bytes_sent(uint64_t now_ns) const {
  if (!on_wire()) return 0;
  const double sent_bytes = (static_cast<double>(bytes) * 8.0 - bits_left_at(*this, now_ns)) / 8.0;
  return std::min(bytes, static_cast<uint64_t>(std::max(0.0, sent_bytes)));
}

uint64_t WirePort::partial_bytes(uint64_t now_ns) const {
  uint64_t total = 0;
  for (const WireFlow* flow : flows) total += flow->bytes_sent(now_ns);
  return total;
}

void wire_start(WireFlow& flow, WirePort& tx, WirePort* rx, uint64_t bytes, uint64_t now_ns,
                const WireChanged& changed) {
  std::vector<WirePort*> touched;
  if (flow.on_wire()) leave(flow, touched);
  flow.tx = &tx;
  flow.rx = rx;
  tx.flows.push_back(&flow);
  touched.push_back(&tx);
  if (rx != nullptr) {
    rx->flows.push_back(&flow);
    touched.push_back(rx);
  }
  flow.bytes = bytes;
  flow.bits_left = static_cast<double>(bytes) * 8.0;
  flow.since_ns = now_ns;
  flow.gbps = 0;  // so that sharing again gives it its rate and tells the caller
  share_again(touched, now_ns, changed);
}

uint64_t wire_stop(WireFlow& flow, uint64_t now_ns, const WireChanged& changed) {
  if (!flow.on_wire()) return 0;
  const uint64_t sent = flow.bytes_sent(now_ns);
  std::vector<WirePort*> touched;
  leave(flow, touched);
  ++flow.generation;  // its pending finish event is stale
  share_again(touched, now_ns, changed);
  return sent;
}

}  // namespace ferry::emu
