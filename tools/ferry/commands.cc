#include "tools/ferry/command.h"

namespace ferry::cli {

std::vector<Command> all_commands() {
  return {validate_command(), replay_command(), diff_command(), bench_command(), qualify_command(), swarm_command()};
}

}  // namespace ferry::cli
