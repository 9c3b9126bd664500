// Fuzz target: the arguments of a Run call reaching validation. The input is a request envelope
// whose first two inputs are the namespace and the Container (as the dispatcher hands Run's
// arguments on), or else (any other bytes, including a request with fewer inputs) the msgpack of
// the Container argument alone, with namespace "ns1".
//
// Properties: nothing but type_error comes out of the value decoders; a decoded Container
// re-encodes to bytes that decode to an equal Container; validate() never throws and either
// accepts or names the problem in one bounded, valid UTF-8 sentence starting with "invalid ".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz/check.hpp"
#include "src/oci/validate.hpp"
#include "src/zbus/codec.hpp"

namespace {

using namespace contd;

// A node whose paths exist on every Linux host: /proc/self holds plain files (status, environ,
// ...) that pass as network namespace files, and /proc/self/cwd and /tmp are directories.
const oci::node_facts& node() {
  static const oci::node_facts facts = [] {
    oci::node_facts f;
    f.cpu_count = 4;
    f.memory_bytes = 8ULL << 30;
    f.netns_dir = "/proc/self";
    return f;
  }();
  return facts;
}

void check_run(const std::string& ns, std::string_view container_bytes) {
  container c;
  try {
    c = zbus::decode_container(container_bytes);
  } catch (const zbus::type_error& e) {
    FUZZ_CHECK(*e.what() != '\0');
    return;
  }
  auto wire = zbus::encode_container(c);
  FUZZ_CHECK(zbus::decode_container(wire) == c);

  auto problem = oci::validate(ns, c, node());
  if (!problem)
    return;
  FUZZ_CHECK(problem->rfind("invalid ", 0) == 0);
  // Values are quoted and cut at 128 bytes; the sentences around them are short.
  FUZZ_CHECK(problem->size() < 1024);
  FUZZ_CHECK(oci::is_valid_utf8(*problem));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  try {
    zbus::decode_failure failure;
    auto req = zbus::decode_request(in, failure);
    if (!req || req->inputs.size() < 2) {
      check_run("ns1", in);
      return 0;
    }
    std::string ns;
    try {
      ns = zbus::decode_string(req->inputs[0]);
    } catch (const zbus::type_error&) {
      return 0;
    }
    check_run(ns, req->inputs[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception out of decoding or validation: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  return 0;
}
