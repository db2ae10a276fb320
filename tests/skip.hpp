// tests/skip.hpp — a test case that cannot run says so: skip_test("reason") records it, and a
// suite whose every test case that ran was skipped exits with 77, which meson reports as SKIP
// (tests/main.cpp). A fresh clone without ../shared/data, or a run without the built apps, then
// shows what it did not check instead of passing silently.
//   if (!fs::exists(p)) return tt::testing::skip_test(p.string() + " is absent");
#pragma once

#include <string>

namespace tt::testing {

void skip_test(const std::string& reason);

}  // namespace tt::testing
