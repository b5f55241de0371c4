#include "tools/ferry/not_available.h"

#include <cstdio>

#include "tools/ferry/exit_codes.h"

namespace ferry::cli {

int not_available_yet(std::string_view command, std::string_view meanwhile) {
  std::fprintf(stderr, "ferry %.*s: not available yet; %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(meanwhile.size()), meanwhile.data());
  return kExitUsage;
}

}  // namespace ferry::cli
