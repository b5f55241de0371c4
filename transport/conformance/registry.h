// The groups of checks, each in its own file; checks.cc lists them in this order.
#pragma once

#include <vector>

#include "transport/conformance/checks.h"

namespace ferry::conformance {

void add_operation_checks(std::vector<Check>& out);  // operations.cc
void add_ordering_checks(std::vector<Check>& out);   // ordering.cc
void add_refusal_checks(std::vector<Check>& out);    // refusals.cc
void add_queue_checks(std::vector<Check>& out);      // queues.cc: flush, overflow, RNR, posting
void add_setup_checks(std::vector<Check>& out);      // setup.cc: addresses, memory, attributes
void add_fault_checks(std::vector<Check>& out);      // faults.cc

}  // namespace ferry::conformance
