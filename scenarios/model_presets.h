// Model presets: public models by name, with the dimensions of their published configs.
#pragma once

#include <span>
#include <string_view>

#include "scenarios/model_spec.h"

namespace ferry::scenarios {

struct ModelPreset {
  std::string_view name;    // as scenarios write it: "llama-3-70b"
  std::string_view source;  // the public config the dimensions come from
  ModelSpec spec;
};

std::span<const ModelPreset> model_presets();
const ModelPreset* find_model_preset(std::string_view name);  // nullptr when unknown

}  // namespace ferry::scenarios
