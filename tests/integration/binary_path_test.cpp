// Registers the path of the binary under test with the support library:
// CREDPROXY_BINARY is a compile definition of this executable only.
#include "tests/support/credproxy_instance.hpp"

namespace {
[[maybe_unused]] const bool registered = (credproxy::test::set_credproxy_binary(CREDPROXY_BINARY), true);
}  // namespace
