// Fuzz target: the bytes popped from a request queue in Redis, through the msgpack structure check
// and the request decoder (what the ingress does with every payload), and through the decoders of
// what contctl reads from Redis: a reply and a published container event.
//
// Properties: nothing throws out of the codec except the type_error decode_event documents; a
// refusal always has a reason; a decoded request passed the structure check; a decoded request,
// response or event re-encodes to bytes that decode to the same value (for requests and
// responses re-encoding those gives the same bytes).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string_view>

#include "fuzz/check.hpp"
#include "src/zbus/codec.hpp"

namespace {

using namespace contd::zbus;

bool same(const request& a, const request& b) {
  return a.id == b.id && a.inputs == b.inputs && a.object == b.object && a.reply_to == b.reply_to
         && a.method == b.method;
}

bool same(const response& a, const response& b) {
  return a.id == b.id && a.data == b.data && a.call_error == b.call_error
         && a.protocol_error == b.protocol_error;
}

void check_request(std::string_view in) {
  auto structure = check_msgpack(in);
  if (!structure)
    FUZZ_CHECK(!structure.error().empty());
  // A tighter nesting bound refuses at least as much.
  if (check_msgpack(in, 2))
    FUZZ_CHECK(structure.ok());

  auto req = decode_request(in);
  if (!req) {
    FUZZ_CHECK(!req.error().reason.empty());
    return;
  }
  FUZZ_CHECK(structure.ok());
  auto wire = encode_request(*req);
  FUZZ_CHECK(check_msgpack(wire).ok());
  auto again = decode_request(wire);
  FUZZ_CHECK(again && same(*req, *again));
  FUZZ_CHECK(encode_request(*again) == wire);
}

void check_response(std::string_view in) {
  auto resp = decode_response(in);
  if (!resp) {
    FUZZ_CHECK(!resp.error().empty());
    return;
  }
  auto wire = encode_response(*resp);
  auto again = decode_response(wire);
  FUZZ_CHECK(again && same(*resp, *again));
  FUZZ_CHECK(encode_response(*again) == wire);
}

void check_event(std::string_view in) {
  contd::container_event ev;
  try {
    ev = decode_event(in);
  } catch (const type_error& e) {
    FUZZ_CHECK(*e.what() != '\0');
    return;
  }
  FUZZ_CHECK(decode_event(encode_event(ev)) == ev);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  try {
    check_request(in);
    check_response(in);
    check_event(in);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception out of the zbus codec: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  return 0;
}
