// FUZZ_CHECK(cond): a property check that stays on in every build type. assert() is compiled out
// under NDEBUG (RelWithDebInfo, the default build type, defines it), and the replay tests of the
// normal build must fail on a broken property just as the fuzzers do.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);             \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)
