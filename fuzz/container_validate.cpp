// Fuzz target: a Run call reaching validation. Bytes that decode as a request naming a method go
// through the dispatcher's argument checks (check_call) as the ingress hands them on, and a Run
// call's (namespace, Container) is validated; any other bytes are read as the msgpack of the
// Container argument alone and validated in namespace "ns1".
//
// Properties: nothing but type_error comes out of the value decoders and nothing at all out of
// check_call and validate; check_call either yields a call or a protocol error text; a decoded
// Container re-encodes to bytes that decode to an equal Container; validate() either accepts or
// names the problem in one bounded, valid UTF-8 sentence starting with "invalid ".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz/check.hpp"
#include "src/oci/validate.hpp"
#include "src/zbus/codec.hpp"
#include "src/zbus/dispatch.hpp"

namespace {

using namespace contd;

// A node whose paths exist on every Linux host: /proc/self holds plain files (status, environ,
// ...) that pass as network namespace files; /tmp is a directory.
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

void check_container(const std::string& ns, const container& c) {
  FUZZ_CHECK(zbus::decode_container(zbus::encode_container(c)) == c);

  auto problem = oci::validate(ns, c, node());
  if (!problem)
    return;
  FUZZ_CHECK(problem->rfind("invalid ", 0) == 0);
  // Values are quoted and cut at 128 bytes; the sentences around them are short.
  FUZZ_CHECK(problem->size() < 1024);
  FUZZ_CHECK(oci::is_valid_utf8(*problem));
}

void check_input(std::string_view in) {
  auto req = zbus::decode_request(in);
  if (req && !req->method.empty()) {
    auto checked = zbus::check_call(*req);
    if (!checked.value) {
      FUZZ_CHECK(!checked.protocol_error.empty());
      return;
    }
    if (checked.value->m == zbus::method::run)
      check_container(checked.value->ns, checked.value->data);
    return;
  }
  container c;
  try {
    c = zbus::decode_container(in);
  } catch (const zbus::type_error& e) {
    FUZZ_CHECK(*e.what() != '\0');
    return;
  }
  check_container("ns1", c);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    check_input({reinterpret_cast<const char*>(data), size});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception out of decoding or validation: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  return 0;
}
