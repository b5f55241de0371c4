#include "tools/ferry/shared_options.h"

#include "scenarios/limits.h"
#include "scenarios/units.h"

namespace ferry::cli {

OptionSpec scale_option() {
  return {"--scale", "X",
          "multiply what the workloads move (token counts and byte sizes) by X, on top of the file's own scale: "
          "0.01 shrinks a scenario a hundredfold; counts, parallel degrees, the cluster and the model stay as "
          "written (default 1)"};
}

OptionSpec provider_option() {
  return {"--provider", "NAME",
          "run on emu, sim, verbs or tcp instead of the scenario's fabric.provider; that provider's parameters take "
          "their defaults"};
}

Result<double> parse_scale(const std::string& text) {
  const scenarios::UnitParse<double> parsed = scenarios::parse_real(text);
  if (!parsed.value || !(*parsed.value > 0 && *parsed.value <= scenarios::kMaxScale)) {
    return make_error(ErrorCode::kInvalidArgument, "--scale takes a number in (0, " +
                                                       scenarios::format_real(scenarios::kMaxScale) + "], got '" +
                                                       text + "'");
  }
  return *parsed.value;
}

}  // namespace ferry::cli
