// qualify: the hardware qualification suite as a command (qualify_cli.h; also `ferry
// qualify`).
#include <cstdio>
#include <string>
#include <vector>

#include "hw_tests/qualify_cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return ferry::qualify::run_cli(args, stdout, stderr);
}
