#pragma once
// The command line of the whole-training benchmark programs: [--seed N] [--steps N].
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace spindle_bench {

struct RunArgs {
  std::uint64_t seed = 0;
  long steps = 0;
};

/// Parses argv; prints the usage and exits with status 2 on anything else.
inline RunArgs parse_run_args(int argc, char** argv, long default_steps) {
  RunArgs a{0, default_steps};
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 < argc && !std::strcmp(argv[i], "--seed")) a.seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (i + 1 < argc && !std::strcmp(argv[i], "--steps")) a.steps = std::strtol(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: %s [--seed N] [--steps N]\n", argv[0]);
      std::exit(2);
    }
  }
  return a;
}

}  // namespace spindle_bench
