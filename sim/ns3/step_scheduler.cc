#include "sim/ns3/step_scheduler.h"

#include <algorithm>

namespace ferry::sim::net {
namespace {

StepScheduler* g_current = nullptr;

// A max-heap on "later", so the front is the earliest (time, then scheduling order).
bool later(const ns3::Scheduler::Event& a, const ns3::Scheduler::Event& b) {
  return a.key > b.key;
}

}  // namespace

ns3::TypeId StepScheduler::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("ferry::sim::net::StepScheduler")
                               .SetParent<ns3::Scheduler>()
                               .SetGroupName("Core")
                               .AddConstructor<StepScheduler>();
  return tid;
}

StepScheduler::StepScheduler() { g_current = this; }

StepScheduler::~StepScheduler() {
  if (g_current == this) g_current = nullptr;
}

StepScheduler* StepScheduler::current() { return g_current; }

void StepScheduler::Insert(const Event& ev) {
  if (ev.impl == sentinel_) sentinel_queued_ = true;
  heap_.push_back(ev);
  std::push_heap(heap_.begin(), heap_.end(), later);
}

bool StepScheduler::IsEmpty() const { return heap_.size() == (sentinel_queued_ ? 1u : 0u); }

ns3::Scheduler::Event StepScheduler::PeekNext() const { return heap_.front(); }

ns3::Scheduler::Event StepScheduler::RemoveNext() {
  std::pop_heap(heap_.begin(), heap_.end(), later);
  Event ev = heap_.back();
  heap_.pop_back();
  if (ev.impl == sentinel_) sentinel_queued_ = false;
  return ev;
}

void StepScheduler::Remove(const Event& ev) {
  auto it = std::find_if(heap_.begin(), heap_.end(),
                         [&](const Event& e) { return e.key.m_uid == ev.key.m_uid; });
  if (it == heap_.end()) return;
  if (it->impl == sentinel_) sentinel_queued_ = false;
  heap_.erase(it);
  std::make_heap(heap_.begin(), heap_.end(), later);
}

}  // namespace ferry::sim::net
