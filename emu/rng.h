// Forwards to transport/random.h for code not yet moved to it; goes once none includes
// this header.
#pragma once

#include "transport/random.h"

namespace ferry::emu {

using Rng = ::ferry::Rng;

}  // namespace ferry::emu
