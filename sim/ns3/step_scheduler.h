// The event list of the simulation: a binary heap that can tell when the next event is
// due, which ns-3's own schedulers do not expose. Needed to run "the next instant"
// (Provider::progress) and to end a run at idle while a time limit is pending.
//
// ns-3 internals: C++17 only.
#pragma once

#include <cstdint>
#include <vector>

#include "ns3/scheduler.h"

namespace ferry::sim::net {

class StepScheduler final : public ns3::Scheduler {
 public:
  static ns3::TypeId GetTypeId();
  StepScheduler();
  ~StepScheduler() override;

  // The scheduler of the running simulator (made through Simulator::SetScheduler).
  static StepScheduler* current();

  void Insert(const Event& ev) override;
  bool IsEmpty() const override;
  Event PeekNext() const override;
  Event RemoveNext() override;
  void Remove(const Event& ev) override;

  // Time stamp of the earliest event; only when !IsEmpty().
  uint64_t next_time() const { return heap_.front().key.m_ts; }
  // An event that does not count as pending: a run ends at idle even though its time
  // limit (this event) is still in the list. Call right after scheduling it; null clears.
  void set_sentinel(ns3::EventImpl* event) {
    sentinel_ = event;
    sentinel_queued_ = event != nullptr;
  }

 private:
  std::vector<Event> heap_;
  ns3::EventImpl* sentinel_ = nullptr;
  bool sentinel_queued_ = false;
};

}  // namespace ferry::sim::net
