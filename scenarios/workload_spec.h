// WorkloadSpec: one of the five communication patterns of LLM inference, with its shape.
//
// A scenario's workloads run one after another, in file order. Each occupies ranks from
// rank 0 (ClusterSpec says where a rank lives); pd_disagg starts its decode pool on the
// first node after its prefill pool, since the two pools never share a node, and a
// weight_load with placement per_node has one rank per node.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "scenarios/named.h"
#include "scenarios/source_mark.h"

namespace ferry::scenarios {

// Tensor-parallel decode: every step, every layer all-reduces the batch's hidden states
// twice (after attention and after the MLP) over the tp ranks.
struct TpDecodeSpec {
  uint32_t tp = 0;
  uint32_t batch = 0;   // sequences decoded together
  uint64_t tokens = 0;  // decode steps (tokens generated per sequence)
};

// Context lengths of pd_disagg requests: a list (request i takes entry i % size) or a
// distribution a replayer draws from with the fabric's seed.
struct ContextLengths {
  enum class Kind { kList, kUniform, kLognormal };
  Kind kind = Kind::kList;
  std::vector<uint64_t> list;  // kList
  uint64_t min = 0;            // kUniform, kLognormal: draws are clamped to [min, max]
  uint64_t max = 0;
  uint64_t median = 0;  // kLognormal: exp(mu) of the underlying normal
  double sigma = 0;     // kLognormal: its standard deviation

  uint64_t largest() const;
};

inline constexpr Named<ContextLengths::Kind> kContextDistributionNames[] = {
    {"uniform", ContextLengths::Kind::kUniform},
    {"lognormal", ContextLengths::Kind::kLognormal},
};

enum class Arrival {
  kPoisson,  // exponential gaps with mean 1 / rate
  kFixed,    // one request every 1 / rate
};

inline constexpr Named<Arrival> kArrivalNames[] = {
    {"poisson", Arrival::kPoisson},
    {"fixed", Arrival::kFixed},
};

// A pool of model instances, each over tp GPUs.
struct PoolSpec {
  uint32_t instances = 1;
  uint32_t tp = 0;

  uint64_t ranks() const { return uint64_t{instances} * tp; }
};

// Disaggregated prefill and decode: each request's KV cache (its context, every layer)
// migrates from a prefill instance to a decode instance.
struct PdDisaggSpec {
  uint32_t requests = 0;
  ContextLengths context;
  double arrival_rate = 0;  // requests per second; 0: all arrive at once
  Arrival arrival = Arrival::kPoisson;
  PoolSpec prefill;
  PoolSpec decode;
  uint32_t block_size = 16;  // tokens per KV-cache block (page)
};

// How dispatch moves a token: bf16, or fp8 e4m3 with one fp32 scale per 128 elements.
// Combine is bf16 either way.
enum class DispatchDtype { kBf16, kFp8 };
inline constexpr uint32_t kFp8ScaleGroup = 128;  // elements per fp32 scale
inline constexpr Named<DispatchDtype> kDispatchDtypeNames[] = {
    {"bf16", DispatchDtype::kBf16},
    {"fp8", DispatchDtype::kFp8},
};

// MoE expert parallelism: dispatch of each token to its top-k experts' ranks, and combine
// of their outputs back.
struct MoeSpec {
  uint32_t ep = 0;               // ranks the experts are spread over
  uint64_t tokens_per_rank = 0;  // per round
  uint32_t top_k = 0;            // experts per token; the model's by default
  // Zipf exponent of expert popularity: 0 routes uniformly, larger values concentrate
  // tokens on a few hot experts.
  double routing_skew = 0;
  uint32_t rounds = 1;  // dispatch-and-combine exchanges (one per MoE layer per step)
  DispatchDtype dispatch_dtype = DispatchDtype::kBf16;
};

// Pipeline parallelism: micro-batches' activations flow through the stages.
struct PipelineSpec {
  uint32_t stages = 0;
  uint32_t tp = 1;  // GPUs per stage
  uint32_t micro_batches = 0;
  uint64_t micro_batch_tokens = 0;
  // Micro-batches each stage keeps in flight to the next (writes not yet completed).
  uint32_t max_in_flight = 4;

  uint64_t ranks() const { return uint64_t{stages} * tp; }
};

enum class WeightPlacement {
  kPerGpu,   // a rank is a GPU, as in every workload
  kPerNode,  // a rank is a node, receiving with all its NICs (weights landing in host memory)
};

inline constexpr Named<WeightPlacement> kWeightPlacementNames[] = {
    {"per_gpu", WeightPlacement::kPerGpu},
    {"per_node", WeightPlacement::kPerNode},
};

// Weight loading: one root's weights broadcast to every rank, chunk by chunk, down a
// chain (fanout 1) or a k-ary tree. Rank 0 is the root.
struct WeightLoadSpec {
  uint64_t bytes = 0;             // what every rank receives
  bool bytes_from_model = false;  // bytes is the model's parameter bytes (then scaled)
  WeightPlacement placement = WeightPlacement::kPerGpu;
  uint32_t ranks = 0;  // root included; every GPU (per_gpu) or node (per_node) by default
  uint32_t fanout = 1;
  uint64_t chunk_bytes = 256 << 10;
};

enum class WorkloadKind { kTpDecode, kPdDisagg, kMoe, kPipeline, kWeightLoad };  // variant order

inline constexpr Named<WorkloadKind> kWorkloadNames[] = {
    {"tp_decode", WorkloadKind::kTpDecode}, {"pd_disagg", WorkloadKind::kPdDisagg},     {"moe", WorkloadKind::kMoe},
    {"pp", WorkloadKind::kPipeline},        {"weight_load", WorkloadKind::kWeightLoad},
};

struct WorkloadSpec {
  std::string name;  // as given, else the kind's name
  SourceMark where;  // the workload's place in the file, for a replayer's messages
  std::variant<TpDecodeSpec, PdDisaggSpec, MoeSpec, PipelineSpec, WeightLoadSpec> params;

  WorkloadKind kind() const { return static_cast<WorkloadKind>(params.index()); }
};

}  // namespace ferry::scenarios
